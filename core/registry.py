"""Camera registry: where each camera is, which district it belongs to, and which way it looks.

File format (CSV, UTF-8, header required, ``#`` starts a comment line)::

    camera_id,district,name,lat,lon,heading_deg,tilt_deg,notes
    JN-01,Jongno-gu,Gwanghwamun plaza north,37.5759,126.9769,180,30,

* ``camera_id``: unique, letters/digits/``-``/``_``/``.`` only (it names a folder in the archive).
* ``district``: free text (e.g. a Seoul gu); used for filters and map colouring.
* ``lat``/``lon``: WGS84 degrees.
* ``heading_deg``: compass bearing the camera looks toward (0 = north, 90 = east), in [0, 360).
* ``tilt_deg`` (optional, default 30): how far the camera looks down from horizontal, (0, 90].
  Used to turn image motion into ground motion; a rough value is fine.
* ``notes`` (optional): free text.

Every error names the file and line, because admins edit this file by hand.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.errors import FootageSearchError

REQUIRED_COLUMNS = ("camera_id", "district", "name", "lat", "lon", "heading_deg")
OPTIONAL_COLUMNS = ("tilt_deg", "notes")
DEFAULT_TILT_DEG = 30.0
CAMERA_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
EARTH_RADIUS_M = 6_371_000.0


class RegistryError(FootageSearchError, ValueError):
    """A camera registry problem, always naming the file and (where known) the line."""


class UnknownCameraError(FootageSearchError, KeyError):
    """A camera id that the registry does not list."""

    def __str__(self) -> str:  # KeyError quotes its argument; show the message as written
        return str(self.args[0])


@dataclass(frozen=True)
class Camera:
    camera_id: str
    district: str
    name: str
    lat: float
    lon: float
    heading_deg: float
    tilt_deg: float = DEFAULT_TILT_DEG
    notes: str = ""


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def initial_bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Compass bearing from point 1 toward point 2, in [0, 360)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(x, y)) % 360.0


@dataclass(frozen=True)
class CameraRegistry:
    """An immutable, validated set of cameras, keyed by id."""

    cameras: dict[str, Camera]
    source: str = "<memory>"

    def __iter__(self) -> Iterator[Camera]:
        return iter(self.cameras.values())

    def __len__(self) -> int:
        return len(self.cameras)

    def __contains__(self, camera_id: object) -> bool:
        return camera_id in self.cameras

    def get(self, camera_id: str) -> Camera:
        try:
            return self.cameras[camera_id]
        except KeyError:
            raise UnknownCameraError(
                f"unknown camera {camera_id!r}: not in the camera registry {self.source}"
            ) from None

    @property
    def districts(self) -> list[str]:
        return sorted({c.district for c in self.cameras.values()})

    def distance_m(self, a: str, b: str) -> float:
        ca, cb = self.get(a), self.get(b)
        return haversine_m(ca.lat, ca.lon, cb.lat, cb.lon)

    def bearing_deg(self, a: str, b: str) -> float:
        ca, cb = self.get(a), self.get(b)
        return initial_bearing_deg(ca.lat, ca.lon, cb.lat, cb.lon)


def _float(value: str, column: str, where: str, lo: float, hi: float, *, hi_open: bool = False) -> float:
    try:
        x = float(value)
    except ValueError:
        raise RegistryError(f"{where}: {column} {value!r} is not a number") from None
    if not math.isfinite(x) or x < lo or x > hi or (hi_open and x == hi):
        bracket = ")" if hi_open else "]"
        raise RegistryError(f"{where}: {column} {value!r} is out of range [{lo:g}, {hi:g}{bracket}")
    return x


def parse_registry(text: str, source: str = "<memory>") -> CameraRegistry:
    """Parse registry CSV text; raise :class:`RegistryError` naming ``source`` and the line."""
    numbered = [
        (n, line) for n, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        raise RegistryError(f"{source}: empty camera registry (no header, no cameras)")
    reader = csv.reader([line for _, line in numbered])
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise RegistryError(
            f"{source}:{numbered[0][0]}: header lacks column(s) {', '.join(missing)}; "
            f"expected {','.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}"
        )
    unknown = [c for c in header if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise RegistryError(f"{source}:{numbered[0][0]}: unknown column(s) {', '.join(unknown)}")

    cameras: dict[str, Camera] = {}
    first_line: dict[str, int] = {}
    for (line_no, _), row in zip(numbered[1:], reader, strict=True):
        where = f"{source}:{line_no}"
        if len(row) != len(header):
            raise RegistryError(f"{where}: expected {len(header)} fields, found {len(row)}")
        rec = {k: v.strip() for k, v in zip(header, row, strict=True)}
        cid = rec["camera_id"]
        if not CAMERA_ID_RE.match(cid):
            raise RegistryError(
                f"{where}: camera_id {cid!r} must be 1-64 letters, digits, '.', '_' or '-'"
            )
        if cid in cameras:
            raise RegistryError(f"{where}: duplicate camera_id {cid!r} (first on line {first_line[cid]})")
        if not rec["district"]:
            raise RegistryError(f"{where}: camera {cid!r} has no district")
        tilt = rec.get("tilt_deg") or ""
        cameras[cid] = Camera(
            camera_id=cid,
            district=rec["district"],
            name=rec["name"] or cid,
            lat=_float(rec["lat"], "lat", where, -90, 90),
            lon=_float(rec["lon"], "lon", where, -180, 180),
            heading_deg=_float(rec["heading_deg"], "heading_deg", where, 0, 360, hi_open=True),
            tilt_deg=_float(tilt, "tilt_deg", where, 0.5, 90) if tilt else DEFAULT_TILT_DEG,
            notes=rec.get("notes", ""),
        )
        first_line[cid] = line_no
    if not cameras:
        raise RegistryError(f"{source}: the camera registry lists no cameras")
    return CameraRegistry(cameras=cameras, source=source)


def load_registry(path: str | Path) -> CameraRegistry:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RegistryError(f"{path}: camera registry file not found") from None
    except UnicodeDecodeError as exc:
        raise RegistryError(f"{path}: not UTF-8 text ({exc.reason})") from None
    return parse_registry(text, source=str(path))


def write_registry(registry: CameraRegistry | list[Camera], path: str | Path) -> None:
    cams = list(registry)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
        for c in cams:
            w.writerow([c.camera_id, c.district, c.name, f"{c.lat:.6f}", f"{c.lon:.6f}",
                        f"{c.heading_deg:g}", f"{c.tilt_deg:g}", c.notes])
