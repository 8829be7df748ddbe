"""``footage-search index`` and ``footage-search status``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.config import Config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "index", help="index new or changed videos of an archive (incremental, resumable)",
        description="Index every new or changed video under ARCHIVE (one folder per camera). Safe to "
                    "rerun at any time: unchanged files are skipped, an interrupted run resumes.",
    )
    p.add_argument("archive", type=Path, help="archive folder: ARCHIVE/<camera_id>/<video files>")
    p.add_argument("--registry", type=Path, help="camera registry CSV (default ARCHIVE/cameras.csv)")
    p.add_argument("--index", dest="index_uri", help="index location (overrides storage.index_uri)")
    p.add_argument("--workers", type=int, help="videos indexed at once, by the parent and "
                   "workers-1 processes (default: one per CPU core)")
    p.add_argument("--sample-fps", type=float, help="frames analysed per second of video")
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto: where the detector and CLIP run, and videos are "
                                    "decoded (index.hwaccel); sets models.device")
    p.add_argument("--rebuild", action="store_true", help="drop the index and index everything again")
    p.add_argument("--retry-failed", action="store_true", help="retry files that failed before")
    p.add_argument("--prune", action="store_true",
                   help="forget videos (and their sightings) whose file is gone or whose camera left the registry")
    p.add_argument("--embeddings-only", action="store_true",
                   help="only add CLIP vectors to sightings indexed without them")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs, CI)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="wait this long for another indexer on the same index to finish")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: worker processes on this machine (default); ray: a Ray Data job "
                        "(pip install 'footage-search[ray]'), see docs/SCALING.md")
    p.add_argument("--address", default="", metavar="RAY_ADDRESS",
                   help="with --engine ray: the cluster to join (auto, ray://HOST:10001); "
                        "default: start Ray on this machine")
    p.add_argument("--commit-every", type=int, default=64, metavar="N",
                   help="with --engine ray: commit finished videos to the index N at a time (default 64)")
    p.add_argument("--camera", metavar="ID",
                   help="windowed indexing (case mode): only this camera's footage between --from and --to; "
                        "spans the index already covers are not analysed again")
    p.add_argument("--from", dest="window_from", metavar="ISO", help="with --camera: window start (index.timezone "
                                                                     "unless the time has an offset)")
    p.add_argument("--to", dest="window_to", metavar="ISO", help="with --camera: window end")
    p.set_defaults(handler=run_index_command)

    s = sub.add_parser("status", help="what the index holds (cameras, time coverage, registry) and which models load",
                       description="Summarise the index (videos, sightings, cameras, time span, CLIP model, the camera "
                                   "registry it was built with) and list every model this machine has: person "
                                   "detector, colour-name table and CLIP, each loaded, missing or on a fallback, "
                                   "with what to do about it.")
    s.add_argument("--index", dest="index_uri", help="index location (overrides storage.index_uri)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=run_status_command)


def _apply(cfg: Config, args: argparse.Namespace) -> Config:
    over: dict[str, object] = {}
    if getattr(args, "index_uri", None):
        over["storage.index_uri"] = args.index_uri
    if getattr(args, "workers", None) is not None:
        over["index.workers"] = args.workers
    if getattr(args, "sample_fps", None):
        over["index.sample_fps"] = args.sample_fps
    if getattr(args, "device", None):
        over["models.device"] = args.device
    return cfg.with_overrides(over, origin="command line", base_dir=Path.cwd()) if over else cfg


def run_index_command(args: argparse.Namespace, cfg: Config) -> int:
    from core.errors import UserError
    from core.registry import load_registry
    from core.vision.onnx_device import resolve_onnx_device
    from indexer.batch import BatchOptions, run_index
    from indexer.embed_fill import fill_embeddings

    cfg = _apply(cfg, args)
    if not args.archive.is_dir():
        raise UserError(f"archive folder not found: {args.archive}")
    resolve_onnx_device(cfg.models.device)  # a GPU asked for that cannot be used: one line, before any work
    registry_path = args.registry or args.archive / "cameras.csv"
    registry = load_registry(registry_path)
    progress = not args.no_progress and sys.stderr.isatty()
    if args.embeddings_only:
        filled = fill_embeddings(cfg, progress=progress)
        print(json.dumps(filled.__dict__) if args.json else "\n".join(filled.lines()))
        return 0 if not filled.error else 1
    if args.address and args.engine != "ray":
        raise UserError("--address needs --engine ray")
    if args.camera or args.window_from or args.window_to:
        return _run_window_command(args, cfg, registry)
    summary = run_index(args.archive, cfg, registry,
                        BatchOptions(rebuild=args.rebuild, retry_failed=args.retry_failed, progress=progress,
                                     wait_s=args.wait, engine=args.engine, ray_address=args.address,
                                     commit_every_videos=args.commit_every, prune=args.prune))
    if args.json:
        out = {k: v for k, v in summary.__dict__.items() if k not in ("failed", "skipped")}
        out["failed"] = [f.__dict__ for f in summary.failed]
        out["skipped"] = [f.__dict__ for f in summary.skipped]
        out["x_realtime"] = summary.x_realtime
        print(json.dumps(out, indent=2))
    else:
        print("\n".join(summary.lines()))
    return 1 if summary.failed and not summary.indexed else 0


def _run_window_command(args: argparse.Namespace, cfg: Config, registry) -> int:
    from zoneinfo import ZoneInfo

    from core.errors import UserError
    from indexer.archive import parse_timestamp
    from indexer.windows import index_windows

    if not (args.camera and args.window_from and args.window_to):
        raise UserError("windowed indexing needs all of --camera ID --from ISO --to ISO")
    if args.engine != "local" or args.rebuild or args.prune:
        raise UserError("--camera/--from/--to run on the local engine and cannot be combined with --rebuild or --prune")
    tz = ZoneInfo(cfg.index.timezone)
    try:
        t0, t1 = parse_timestamp(args.window_from, tz), parse_timestamp(args.window_to, tz)
    except ValueError as exc:
        raise UserError(f"--from/--to must be ISO 8601 times: {exc}") from None
    run = index_windows(cfg, registry, args.archive, [(args.camera, t0, t1)], workers=args.workers,
                        wait_s=args.wait, retry_failed=args.retry_failed)
    if args.json:
        print(json.dumps({"windows": [w.__dict__ for w in run.windows], "sightings": run.summary.sightings,
                          "failed": [f.__dict__ for f in run.summary.failed], "wall_s": run.summary.wall_s}, indent=2))
    else:
        print("\n".join(run.lines(tz)))
    return 1 if run.summary.failed and not run.summary.windows else 0


def run_status_command(args: argparse.Namespace, cfg: Config) -> int:
    from core.index_status import index_status
    from core.model_report import model_report

    cfg = _apply(cfg, args)
    status = index_status(cfg)
    models = model_report(cfg)
    if args.json:
        print(json.dumps({**status.to_dict(), "models": [m.to_dict() for m in models]}, indent=2))
    else:
        print("\n".join([*status.lines(), "models:", *(f"  {m.line()}" for m in models)]))
    return 0
