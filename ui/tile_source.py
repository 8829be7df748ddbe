"""Where street-map tiles come from, when one is configured: ``ui.tile_url`` or ``ui.mbtiles``.

* ``ui.tile_url``: an XYZ template (``https://tiles.example/{z}/{x}/{y}.png``), usually the agency's
  own tile server in an air-gapped control room. The operator's browser fetches the tiles itself; the
  console fetches the few a case report needs.
* ``ui.mbtiles``: a local MBTiles file (an SQLite database of tiles, rows in TMS order). The console
  serves its tiles to signed-in users only (``ui.tile_map``'s routes, behind ``ui.http_guard``).

Both are checked when the console starts (:func:`tile_source`): a bad template or an unreadable file
is one :class:`~core.config.ConfigError` line, not a blank map discovered in the middle of a case.

:func:`tile_mosaic` stitches the tiles under a latitude/longitude box into one picture: the case
report puts it under its SVG map, so the report stays one self-contained file that prints.
"""

from __future__ import annotations

import io
import logging
import math
import re
import sqlite3
import urllib.error
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image

from core.config import ConfigError, UIConfig

log = logging.getLogger(__name__)

TILE_PX = 256
MAX_LAT = 85.05112878  # Web Mercator's edge
MBTILES_ROUTE = "fs-map/tiles"  # the console serves an MBTiles file's tiles at <console>/fs-map/tiles/{z}/{x}/{y}
REQUIRED = ("{z}", "{x}", "{y}")
OPTIONAL = ("{s}", "{r}")  # Leaflet's subdomain and retina placeholders
SUBDOMAINS = "abc"
DEFAULT_MAX_ZOOM = 19
MOSAIC_MAX_TILES = 64  # a report's map needs a few dozen tiles at most; more means a zoom too deep
FETCH_TIMEOUT_S = 8.0
MOSAIC_DEADLINE_S = 20.0  # an export waits this long at most for a tile server that does not answer
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_FORMATS = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass(frozen=True)
class TileSource:
    """A configured street map: ``url`` is the template the browser uses (relative for MBTiles)."""

    kind: str  # "url" | "mbtiles"
    url: str
    attribution: str = ""
    min_zoom: int = 0
    max_zoom: int = DEFAULT_MAX_ZOOM  # deepest zoom with tiles; Leaflet enlarges beyond it
    mbtiles: Path | None = None
    mime: str = "image/png"

    def fetch(self, z: int, x: int, y: int) -> bytes | None:
        """One tile's bytes, or None where the source has none (or cannot be reached)."""
        if self.mbtiles is not None:
            return read_mbtiles_tile(self.mbtiles, z, x, y)
        url = (self.url.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))
               .replace("{s}", SUBDOMAINS[(x + y) % len(SUBDOMAINS)]).replace("{r}", ""))
        try:
            with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as resp:
                return resp.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            log.warning("tile %s/%s/%s from %s: %s", z, x, y, urlsplit(url).netloc, exc)
            return None


def check_tile_url(template: str, setting: str = "ui.tile_url") -> str:
    """The template, stripped, if the browser and the console can both use it; else a ConfigError."""
    template = template.strip()
    parts = urlsplit(template)
    example = "e.g. https://tiles.example/{z}/{x}/{y}.png"
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{setting}: {template!r} is not an http(s) URL template ({example})")
    found = _PLACEHOLDER.findall(template)
    unknown = sorted({p for p in found if p not in REQUIRED + OPTIONAL})
    if unknown:
        raise ConfigError(f"{setting}: unknown placeholder {', '.join(unknown)} in {template!r}; use {{z}}, {{x}}, "
                          f"{{y}} (and optionally {{s}}, {{r}})")
    missing = [p for p in REQUIRED if p not in found]
    if missing:
        raise ConfigError(f"{setting}: {template!r} lacks {', '.join(missing)} ({example})")
    return template


def _mbtiles_meta(path: Path, setting: str) -> dict[str, str]:
    if not path.is_file():
        raise ConfigError(f"{setting}: MBTiles file not found: {path}")
    try:
        with _open_ro(path) as db:
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'tiles'").fetchone() is None:
                raise ConfigError(f"{setting}: {path} is not an MBTiles file (it has no tiles table)")
            db.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles LIMIT 1").fetchall()
            has_meta = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'metadata'").fetchone() is not None
            rows = db.execute("SELECT name, value FROM metadata").fetchall() if has_meta else []
            zooms = db.execute("SELECT MIN(zoom_level), MAX(zoom_level) FROM tiles").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"{setting}: {path} is not an MBTiles file ({exc})") from None
    meta = {str(k): str(v) for k, v in rows}
    if zooms and zooms[0] is not None:
        meta.setdefault("minzoom", str(zooms[0]))
        meta.setdefault("maxzoom", str(zooms[1]))
    return meta


def _open_ro(path: Path) -> sqlite3.Connection:
    # read-only: the console never writes to an agency's map file (and a missing file is not created)
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)


def read_mbtiles_tile(path: Path, z: int, x: int, y: int) -> bytes | None:
    """The XYZ tile (z, x, y) of an MBTiles file, whose rows are numbered from the south (TMS)."""
    if z < 0 or z > 30 or not (0 <= x < 2 ** z and 0 <= y < 2 ** z):
        return None
    with _open_ro(path) as db:
        row = db.execute("SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                         (z, x, 2 ** z - 1 - y)).fetchone()
    return bytes(row[0]) if row else None


def _zoom(meta: dict[str, str], key: str, default: int, setting: str) -> int:
    try:
        return max(0, min(int(float(meta.get(key, default))), 30))
    except ValueError:
        raise ConfigError(f"{setting}: its metadata {key} is {meta[key]!r}, not a zoom level") from None


def tile_source(ui: UIConfig) -> TileSource | None:
    """The configured street map, checked; None without one (the console then draws its schematic map)."""
    url, mbtiles = ui.tile_url.strip(), ui.mbtiles.strip()
    if url and mbtiles:
        raise ConfigError("ui.tile_url and ui.mbtiles are both set: choose one street map")
    if url:
        return TileSource("url", check_tile_url(url), attribution=ui.tile_attribution.strip())
    if not mbtiles:
        return None
    path = Path(mbtiles).expanduser()
    meta = _mbtiles_meta(path, "ui.mbtiles")
    fmt = meta.get("format", "png").lower()
    if fmt not in _FORMATS:
        raise ConfigError(f"ui.mbtiles: {path} holds {fmt!r} tiles (vector tiles?); the map needs png, jpg or webp")
    return TileSource("mbtiles", MBTILES_ROUTE + "/{z}/{x}/{y}",
                      attribution=ui.tile_attribution.strip() or meta.get("attribution", ""),
                      min_zoom=_zoom(meta, "minzoom", 0, "ui.mbtiles"),
                      max_zoom=_zoom(meta, "maxzoom", DEFAULT_MAX_ZOOM, "ui.mbtiles"), mbtiles=path,
                      mime=_FORMATS[fmt])


# ------------------------------------------------------------------------------------------ mosaic


def world_px(lat: float, lon: float, z: int) -> tuple[float, float]:
    """Web Mercator pixel coordinates of a point at zoom ``z`` (256-pixel tiles)."""
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    n = TILE_PX * 2 ** z
    s = math.sin(math.radians(lat))
    return (lon + 180.0) / 360.0 * n, (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n


@dataclass(frozen=True)
class Mosaic:
    image: bytes  # JPEG of exactly the requested box, width x height pixels
    zoom: int
    tiles: int
    missing: int  # tiles the source did not have (left light grey)


def mosaic_zoom(source: TileSource, north: float, south: float, west: float, east: float, width: int) -> int:
    """The zoom whose tiles are at least as sharp as ``width`` pixels across the box, within the source's
    zooms and :data:`MOSAIC_MAX_TILES`."""
    span = max(east - west, 1e-9)
    z = math.ceil(math.log2(width * 360.0 / (TILE_PX * span)))
    z = max(source.min_zoom, min(z, source.max_zoom))
    while z > source.min_zoom:
        x0, y0 = world_px(north, west, z)
        x1, y1 = world_px(south, east, z)
        if (int(x1 // TILE_PX) - int(x0 // TILE_PX) + 1) * (int(y1 // TILE_PX) - int(y0 // TILE_PX) + 1) \
                <= MOSAIC_MAX_TILES:
            break
        z -= 1
    return z


def tile_mosaic(source: TileSource, north: float, south: float, west: float, east: float, width: int,
                height: int) -> Mosaic | None:
    """The street map under the box north/south/west/east, as a ``width`` x ``height`` JPEG; None when no
    tile at all could be had (the caller keeps its map without one).

    Linear in longitude and latitude across the box: at city scale Web Mercator's stretch changes by a
    fraction of a pixel from the top of the box to the bottom, so the picture lines up with a map drawn
    in local metres (``ui.map_view``).
    """
    z = mosaic_zoom(source, north, south, west, east, width)
    x0, y0 = world_px(north, west, z)
    x1, y1 = world_px(south, east, z)
    n = 2 ** z
    tx0, ty0 = int(x0 // TILE_PX), int(y0 // TILE_PX)
    tx1, ty1 = int(x1 // TILE_PX), int(y1 // TILE_PX)
    wanted = [(tx, ty) for ty in range(ty0, ty1 + 1) for tx in range(tx0, tx1 + 1)]
    pool = ThreadPoolExecutor(max_workers=8)
    futures = [pool.submit(source.fetch, z, tx % n, ty) if 0 <= ty < n else None for tx, ty in wanted]
    wait([f for f in futures if f is not None], timeout=MOSAIC_DEADLINE_S)
    pool.shutdown(wait=False, cancel_futures=True)  # a hung server's last requests end on their own timeout
    got = [_result(f) for f in futures]
    canvas = Image.new("RGB", ((tx1 - tx0 + 1) * TILE_PX, (ty1 - ty0 + 1) * TILE_PX), (226, 232, 240))
    missing = 0
    for (tx, ty), data in zip(wanted, got, strict=True):
        tile = _decode(data)
        if tile is None:
            missing += 1
            continue
        canvas.paste(tile, ((tx - tx0) * TILE_PX, (ty - ty0) * TILE_PX))
    if missing == len(wanted):
        return None
    box = (x0 - tx0 * TILE_PX, y0 - ty0 * TILE_PX, x1 - tx0 * TILE_PX, y1 - ty0 * TILE_PX)
    out = canvas.transform((width, height), Image.Transform.EXTENT, box, resample=Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=82, optimize=True)
    return Mosaic(buf.getvalue(), z, len(wanted), missing)


def _result(future: Future[bytes | None] | None) -> bytes | None:
    if future is None or not future.done() or future.cancelled():
        return None
    try:
        return future.result()
    except Exception as exc:  # one unreadable tile (a locked or damaged MBTiles page) is one grey square
        log.warning("street-map tile: %s", exc)
        return None


def _decode(data: bytes | None) -> Image.Image | None:
    if not data:
        return None
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (OSError, ValueError):  # not a picture (an error page, a vector tile)
        return None
    img = img.convert("RGBA")
    flat = Image.new("RGB", img.size, (255, 255, 255))
    flat.paste(img, mask=img.getchannel("A"))
    return flat.resize((TILE_PX, TILE_PX)) if flat.size != (TILE_PX, TILE_PX) else flat
