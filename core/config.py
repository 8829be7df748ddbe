"""The one typed configuration object.

Values come from, in increasing priority:

1. the defaults below;
2. a TOML file: ``--config PATH``, else ``$FOOTAGE_SEARCH_CONFIG``, else ``./footage-search.toml`` if present;
3. environment variables ``FOOTAGE_SEARCH_<SECTION>_<KEY>``, e.g. ``FOOTAGE_SEARCH_INDEX_SAMPLE_FPS=2``;
4. command-line overrides ``--set section.key=value`` and the subcommands' own flags.

Relative paths in a config file are relative to that file; elsewhere, to the working directory.
Nothing else in the code base reads the environment or keeps global settings: everything that needs
a setting is handed this object (or the section it needs).
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
import types
import typing
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from core.errors import FootageSearchError

ENV_PREFIX = "FOOTAGE_SEARCH_"
CONFIG_ENV = "FOOTAGE_SEARCH_CONFIG"
DEFAULT_CONFIG_FILE = "footage-search.toml"


class ConfigError(FootageSearchError, ValueError):
    """A bad configuration key or value; the message says which and where it came from."""


def _path(default: str = "") -> Any:
    return field(default=default, metadata={"path": True})


@dataclass(frozen=True)
class StorageConfig:
    # LanceDB URI: a local folder, or s3://bucket/prefix etc. with storage_options.
    index_uri: str = _path("data/index")
    storage_options: dict[str, str] = field(default_factory=dict)
    # The camera registry that search, routes and the console use (``index`` takes ARCHIVE/cameras.csv
    # unless --registry says otherwise).
    registry_path: str = _path("")


@dataclass(frozen=True)
class ModelConfig:
    # A folder of pre-placed model files (air-gapped installs, a shared read-only mount); only read.
    models_dir: str = _path("~/.cache/footage-search/models")
    # Where downloads and derived files (ONNX exports) are written; must be writable.
    cache_dir: str = _path("~/.cache/footage-search/models")
    # Multilingual (Korean + English) CLIP by default; see search/README.md "Choosing the CLIP model".
    clip_model: str = "ViT-B-32-SigLIP2-256"
    clip_pretrained: str = "webli"
    # A local checkpoint file overrides clip_pretrained (air-gapped installs).
    clip_checkpoint: str = _path("")
    # An open_clip model-config JSON for architectures open_clip does not ship (fine-tuned variants).
    clip_config_path: str = _path("")
    detector_path: str = _path("")
    colour_table_path: str = _path("")
    allow_download: bool = True
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # How the indexer runs the CLIP image tower: auto = onnx-int8 on CPU, onnx-fp16 (ORT CUDA provider) on GPU;
    # openvino (int8 weights, bf16 arithmetic) is faster per crop on CPUs with bf16 units but holds more memory.
    # See core/vision/clip_onnx.py and core/vision/clip_openvino.py for the measured trade-offs.
    clip_runtime: str = "auto"  # auto | torch | onnx | onnx-int8 | onnx-fp16 | openvino


@dataclass(frozen=True)
class IndexConfig:
    sample_fps: float = 1.0  # bench/decode_speed.py + bench/tracking_quality.py: 1 fps keyframes pays
    # Adaptive sampling (indexer/sampling.py): frames between the base ones, up to busy_fps (a whole multiple
    # of sample_fps; = sample_fps: constant rate), while a track seen within the last second is younger than
    # busy_track_s (0: while anyone is in view). bench/adaptive_sampling.py has the cost and retrieval figures.
    # On (2.0) by default: real-clip text R@10 0.43 -> 0.54, mAP 0.36 -> 0.49, photo R@10 0.875 -> 1.0
    # (bench/results/adaptive_sampling.json); on the 1 h real archive it costs 1.07-1.10x the wall time of flat
    # 1 fps with busy_region_detect (bench/results/index_levers.json, docs/PERFORMANCE.md). 1.0 turns it off.
    # Part of index_fingerprint: files indexed under 1.0 are indexed again by the next batch run.
    busy_fps: float = 2.0
    busy_track_s: float = 5.0
    # >0: a new person heading to be in view this long in all (tracked so far + how long their walk keeps them in
    # the frame, indexer.sampling.seconds_left_in_view) does not keep the scene busy. 5 cut busy frames by 44 % on
    # the 1 h real archive with retrieval held (docs/EVALUATION.md, "Who keeps the scene busy"). 0 turns it off:
    # every new person keeps the scene busy for busy_track_s.
    busy_stay_s: float = 5.0
    # False: on the busy rate's in-between frames, the close look for bags (indexer.attributes.CloseLook) looks only
    # at the new people those frames are for (indexer.sampling.busy_track_ids); everyone else gets it on the base
    # frames, as at the flat rate. True: at everyone due, as before the setting existed.
    busy_close_looks_all: bool = False
    # True: an in-between frame detects only around the new people it is there for (indexer.sampling.busy_region),
    # a region of at least 256 network pixels a side, at the whole frame's scale; the others are followed on the
    # base frames. False: the whole frame, as before the setting existed.
    busy_region_detect: bool = True
    decoder: str = "auto"  # auto | pyav-keyframes | pyav | decord
    workers: int = 0  # 0: one per CPU core
    detector_input: int = 640  # long side of the detector input, multiple of 32
    # Per video, the smallest input of 640/512/416/320 that keeps its smallest people 40 px high in the
    # network (core/vision/detector_input.py; bench/detect_levers.py has cost and recall).
    detector_input_adapt: bool = True
    detector_threshold: float = 0.3
    # Video decoding on a GPU (speed only, not in the fingerprint): auto = on the GPU models.device names,
    # decoding a file on the CPU where the GPU cannot (the summary says why); none; or a PyAV hwaccel type.
    hwaccel: str = "auto"  # auto | none | cuda | vaapi | qsv ...
    crops_per_track: int = 2  # CLIP embeddings per tracklet segment (best crops, not every frame)
    max_segment_s: float = 30.0  # a long tracklet is split into sightings of at most this length
    min_track_detections: int = 2  # shorter tracks are usually false positives
    frame_embed_interval_s: float = 0.0  # >0: also embed whole frames this often (scene search)
    motion_gating: bool = True  # skip detection while nothing moves and nobody is tracked
    # ... and while nothing moves and people are tracked, reuse the last detections. Off: on a real camera it
    # saved 11% CPU but split tracks (13 -> 17 sightings; bench/results/index_levers.json, detect_reuse_still).
    reuse_still_detections: bool = False
    # Crops per ONNX Runtime call on CPU (a GPU takes >= 256). 8, not 32: ORT's arena keeps the largest batch's
    # activations, ~245 MB more per worker at 32, and 8 is no slower (bench/results/index_levers.json).
    clip_batch_size: int = 8
    thumbnail_height: int = 128
    timezone: str = "Asia/Seoul"  # for file-name start times that carry no UTC offset
    # Windowed indexing (case mode, indexer/windows.py): a window is decoded from this long before its start,
    # so the tracker and background model know who is already in view (kept from the window's start if still there).
    window_warmup_s: float = 10.0


@dataclass(frozen=True)
class SearchConfig:
    max_walking_speed_mps: float = 2.0
    default_limit: int = 50
    min_score: float = 0.35  # below this fused score a hit is treated as noise (no-result state)
    direction_tolerance_deg: float = 45.0


@dataclass(frozen=True)
class UIConfig:
    host: str = "127.0.0.1"
    port: int = 7860
    # The clip player (ui/clip_player.py): a sighting's source video from clip_seconds_before its offset to
    # clip_seconds_after it (clamped to the file), cut into the console's own folder, which keeps at most
    # clip_cache_mb of clips (the oldest go first).
    clip_seconds_before: float = 4.0
    clip_seconds_after: float = 6.0
    clip_cache_mb: float = 256.0
    # Where consoles keep their thumbnails, frames, exported reports and Gradio uploads ("":
    # ~/.cache/footage-search/console). Each console gets its own 0700 folder inside, per index and
    # port (<digest>/port-<port>). ``purge`` removes purged people's pictures from here too.
    cache_dir: str = _path("")
    # Reverse proxies whose X-Forwarded-For is believed (IPs or networks, e.g. ["10.0.0.5"]). Empty: the
    # client address is the connection's peer, whatever the headers say. See docs/SECURITY.md.
    trusted_proxies: list[str] = field(default_factory=list)
    # A street map under the route map (ui/tile_source.py): an XYZ tile URL template the browser fetches, e.g.
    # an agency's own https://tiles.example/{z}/{x}/{y}.png, or a local MBTiles file the console serves to
    # signed-in users. Neither: the schematic map (district outlines, no tiles). Credit for the tiles'
    # licence goes in tile_attribution (an MBTiles file's own attribution is used when this is empty).
    tile_url: str = ""
    mbtiles: str = _path("")
    tile_attribution: str = ""


@dataclass(frozen=True)
class AuthConfig:
    # Console users and their scrypt password hashes (``footage-search users add``). "": users.json beside
    # the index folder. No users at all: the console runs open, and only on a loopback address.
    users_file: str = _path("")
    # Failed logins per user name (max_failures) and per client address (max_client_failures: larger, as
    # a control room may share one address) within lockout_s before further tries are refused until the
    # window has passed. 0: no limit.
    max_failures: int = 5
    max_client_failures: int = 20
    lockout_s: float = 300.0


@dataclass(frozen=True)
class AuditConfig:
    # Append-only, hash-chained JSON lines of every search, upload, route, export, login and admin act.
    # "": audit/audit.jsonl beside the index folder.
    log_path: str = _path("")
    # Optional HMAC-SHA256 key: with it, nobody without the key can rewrite the chain consistently.
    # Prefer hmac_key_file (or FOOTAGE_SEARCH_AUDIT_HMAC_KEY) to a key written in the TOML file.
    hmac_key: str = ""
    hmac_key_file: str = _path("")
    # Optional second copy of the log's sealed head (<log>.head), in another folder or on another disk:
    # a cut-off tail then goes unnoticed only if both heads are rolled back. "": no mirror.
    head_mirror: str = _path("")


@dataclass(frozen=True)
class RetentionConfig:
    # Default age for ``footage-search purge`` (days); 0: the command needs --older-than.
    days: float = 0.0


@dataclass(frozen=True)
class Config:
    storage: StorageConfig = field(default_factory=StorageConfig)
    models: ModelConfig = field(default_factory=ModelConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    ui: UIConfig = field(default_factory=UIConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)

    def with_overrides(self, overrides: dict[str, Any], origin: str = "override",
                       base_dir: Path | None = None) -> Config:
        """Return a copy with ``{"section.key": value}`` applied (strings are coerced)."""
        sections = {f.name: getattr(self, f.name) for f in fields(self)}
        for dotted, raw in overrides.items():
            section, _, key = dotted.partition(".")
            if section not in sections or not key:
                raise ConfigError(f"{origin}: unknown setting {dotted!r}; sections are {', '.join(sections)}")
            sec = sections[section]
            spec = {f.name: f for f in fields(sec)}
            if key not in spec:
                raise ConfigError(
                    f"{origin}: unknown setting {dotted!r}; {section} has {', '.join(sorted(spec))}"
                )
            value = _coerce(raw, typing.get_type_hints(type(sec))[key], f"{origin}: {dotted}")
            if spec[key].metadata.get("path") and value and base_dir is not None:
                value = _resolve_path(str(value), base_dir)
            sections[section] = replace(sec, **{key: value})
        return Config(**sections)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def index_fingerprint(self) -> str:
        """Hash of the settings that change what indexing produces (not how fast it runs).

        Stored on each indexed video: a file indexed under other settings is redone by the
        next batch run instead of silently mixing two kinds of sightings.
        """
        keep = {k: v for k, v in asdict(self.index).items()
                if k not in ("workers", "clip_batch_size", "decoder", "window_warmup_s", "hwaccel")}
        keep["detector"] = Path(self.models.detector_path).name if self.models.detector_path else "auto"
        if not keep["busy_stay_s"]:  # off, as before the setting existed: indexes built then stay current
            del keep["busy_stay_s"]
        if keep["busy_close_looks_all"]:  # as before the setting existed
            del keep["busy_close_looks_all"]
        if not keep["busy_region_detect"]:  # as before the setting existed
            del keep["busy_region_detect"]
        blob = json.dumps(keep, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _resolve_path(value: str, base_dir: Path) -> str:
    if "://" in value:
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base_dir / p).resolve())


def _coerce(raw: Any, typ: Any, where: str) -> Any:
    if typing.get_origin(typ) is list:
        # a TOML array, or "a, b" from the environment / --set
        items = raw if isinstance(raw, list) else str(raw).split(",")
        return [str(v).strip() for v in items if str(v).strip()]
    if typing.get_origin(typ) is dict or typ is dict:
        if isinstance(raw, dict):
            return {str(k): str(v) for k, v in raw.items()}
        try:
            parsed = json.loads(raw)
        except (TypeError, json.JSONDecodeError):
            raise ConfigError(f"{where}: expected a JSON object, got {raw!r}") from None
        if not isinstance(parsed, dict):
            raise ConfigError(f"{where}: expected a JSON object, got {raw!r}")
        return {str(k): str(v) for k, v in parsed.items()}
    if isinstance(typ, types.UnionType):
        typ = next(t for t in typing.get_args(typ) if t is not type(None))
    if typ is bool:
        if isinstance(raw, bool):
            return raw
        s = str(raw).strip().lower()
        if s in ("1", "true", "yes", "on"):
            return True
        if s in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}: expected true/false, got {raw!r}")
    if typ in (int, float):
        if isinstance(raw, bool):
            raise ConfigError(f"{where}: expected a number, got {raw!r}")
        try:
            value = typ(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected {typ.__name__}, got {raw!r}") from None
        if value < 0:
            raise ConfigError(f"{where}: must not be negative, got {raw!r}")
        return value
    return str(raw)


def _flatten(doc: dict[str, Any], origin: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for section, body in doc.items():
        if not isinstance(body, dict):
            raise ConfigError(f"{origin}: top-level key {section!r} must be a [section] table")
        for key, value in body.items():
            flat[f"{section}.{key}"] = value
    return flat


def _env_overrides(environ: dict[str, str]) -> dict[str, str]:
    sections = [f.name for f in fields(Config)]
    out: dict[str, str] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        rest = name[len(ENV_PREFIX):].lower()
        section = next((s for s in sections if rest.startswith(s + "_")), None)
        if section is None:
            raise ConfigError(f"environment: {name} names no config section ({', '.join(sections)})")
        out[f"{section}.{rest[len(section) + 1:]}"] = value
    return out


def parse_set_args(items: list[str] | None) -> dict[str, str]:
    """``["index.sample_fps=2", ...]`` from repeated ``--set`` flags."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected section.key=value")
        out[key.strip()] = value
    return out


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None,
                environ: dict[str, str] | None = None) -> Config:
    environ = dict(os.environ) if environ is None else environ
    cfg = Config()
    chosen = path or environ.get(CONFIG_ENV)
    if chosen is None and Path(DEFAULT_CONFIG_FILE).is_file():
        chosen = DEFAULT_CONFIG_FILE
    if chosen:
        file = Path(chosen).expanduser()
        try:
            doc = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {file}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML ({exc})") from None
        cfg = cfg.with_overrides(_flatten(doc, str(file)), origin=str(file), base_dir=file.parent.resolve())
    cfg = cfg.with_overrides(_env_overrides(environ), origin="environment", base_dir=Path.cwd())
    if overrides:
        cfg = cfg.with_overrides(overrides, origin="command line", base_dir=Path.cwd())
    return cfg


def expand(path: str) -> Path:
    return Path(path).expanduser()
