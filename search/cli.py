"""``footage-search query`` and ``footage-search route``.

The camera registry comes from ``--registry``, else ``storage.registry_path``, else the file the index
was built with (recorded by the indexer; a one-line warning when it changed since), else ``cameras.csv``
in the root of the indexed archive, else the copy of the registry the index keeps (with a warning that
its file is gone), else the command stops with a message asking for ``--registry``
(:func:`registry_for_index`, which ``footage-search ui`` uses too).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.config import Config
from core.index_db import IndexDB
from core.registry import CameraRegistry


def register(sub: argparse._SubParsersAction) -> None:
    q = sub.add_parser(
        "query", help="search the index by description, photo or sighting",
        description="Find sightings of a person: by description (English or Korean), by reference photo, or "
                    "like a sighting already found; filter by time, place and direction of movement.",
    )
    q.add_argument("--text", default="", help="description, e.g. 'elderly woman, purple coat, walking north'")
    q.add_argument("--photo", type=Path, help="reference photo of the person (any size; the person is found in it)")
    q.add_argument("--photo-box", metavar="X1,Y1,X2,Y2", help="the person's box in the photo (skip detection)")
    q.add_argument("--like", metavar="SIGHTING_ID", help="more like this sighting")
    _filters(q)
    q.add_argument("--limit", type=int, help="results per page (default search.default_limit)")
    q.add_argument("--offset", type=int, default=0, help="skip this many results (pagination)")
    q.add_argument("--include-weak", action="store_true", help="also list hits below the no-result threshold")
    _common(q)
    q.set_defaults(handler=run_query_command)

    r = sub.add_parser(
        "route", help="chain sightings into the most plausible route across cameras",
        description="Build the most plausible route from a confirmed sighting (--start) or a last-seen camera "
                    "and time (--camera/--at), or from a description/photo within --from/--to. Re-run with "
                    "--pin/--reject to confirm or rule out sightings.",
    )
    r.add_argument("--start", metavar="SIGHTING_ID", help="a confirmed sighting to start from")
    r.add_argument("--camera", help="last seen at this camera (with --at)")
    r.add_argument("--at", metavar="ISO", help="last seen at this time (with --camera)")
    r.add_argument("--text", default="", help="description of the person")
    r.add_argument("--photo", type=Path, help="reference photo of the person")
    r.add_argument("--pin", action="append", default=[], metavar="SIGHTING_ID", help="must be on the route (repeat)")
    r.add_argument("--reject", action="append", default=[], metavar="SIGHTING_ID", help="never on the route (repeat)")
    r.add_argument("--max-speed", type=float, metavar="M/S",
                   help="fastest walking speed (default search.max_walking_speed_mps)")
    r.add_argument("--hours", type=float, default=4.0, help="how far after the start to look (default 4)")
    r.add_argument("--back-hours", type=float, default=0.0, help="how far before the start to look (default 0)")
    r.add_argument("--from", dest="time_from", metavar="ISO", help="window start (without --start/--camera)")
    r.add_argument("--to", dest="time_to", metavar="ISO", help="window end (without --start/--camera)")
    r.add_argument("--district", action="append", default=[], help="only cameras in this district (repeat)")
    _common(r)
    r.set_defaults(handler=run_route_command)


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--direction", help="direction of movement: N, NE, E, SE, S, SW, W, NW or 0-360 degrees")
    p.add_argument("--tolerance", type=float, metavar="DEG",
                   help="direction tolerance (default search.direction_tolerance_deg)")
    p.add_argument("--from", dest="time_from", metavar="ISO", help="earliest time (ISO 8601; local time if no offset)")
    p.add_argument("--to", dest="time_to", metavar="ISO", help="latest time")
    p.add_argument("--district", action="append", default=[], help="only this district (repeat for several)")
    p.add_argument("--camera", action="append", default=[], help="only this camera (repeat for several)")
    p.add_argument("--min-detections", type=int, default=0, help="only tracks with at least this many detections")
    p.add_argument("--min-seconds", type=float, default=0.0, help="only tracks in view at least this long")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", dest="index_uri", help="index location (overrides storage.index_uri)")
    p.add_argument("--registry", type=Path, help="camera registry CSV (default: cameras.csv of the indexed archive)")
    p.add_argument("--no-clip", action="store_true", help="structured matching only (colours, direction, time, place)")
    p.add_argument("--json", action="store_true", help="print JSON (format in search/README.md)")


def registry_for_index(db: IndexDB, cfg: Config, explicit: Path | None = None,
                       archive: Path | None = None) -> tuple[CameraRegistry, list[str]]:
    """The camera registry to search ``db`` with, and one-line warnings about it (see the module doc;
    ``archive``: the console's ``--archive``, whose ``cameras.csv`` comes before the index's own)."""
    from core.errors import UserError
    from core.index_status import GONE, index_registry, registry_kept_in_index
    from core.registry import load_registry
    from search.index_info import indexed_archive_registry

    if explicit:
        return load_registry(explicit), []
    if cfg.storage.registry_path:
        return load_registry(cfg.storage.registry_path), []
    if archive and (archive / "cameras.csv").is_file():
        return load_registry(archive / "cameras.csv"), []
    recorded = index_registry(db)
    warnings = [recorded.warning()] if recorded and recorded.warning() else []
    if recorded and recorded.state != GONE:
        return load_registry(recorded.path), warnings
    found = indexed_archive_registry(db)
    if found is not None:
        return load_registry(found), [w + f"; using {found}" for w in warnings]
    kept = registry_kept_in_index(db)
    if kept is not None:
        return kept, [w + "; using the copy kept in the index" for w in warnings] or [
            "no camera registry file is recorded for this index; using the copy kept in the index"]
    raise UserError("no camera registry: pass --registry CSV (the cameras.csv the archive was indexed with) "
                    "or set storage.registry_path")


def _engine(args: argparse.Namespace, cfg: Config):
    from search.engine import SearchEngine
    from search.search_models import SearchModels

    if getattr(args, "index_uri", None):
        cfg = cfg.with_overrides({"storage.index_uri": args.index_uri}, origin="command line", base_dir=Path.cwd())
    db = IndexDB.open(cfg.storage, must_exist=True)
    registry, warnings = registry_for_index(db, cfg, args.registry)
    for w in warnings:
        print(f"footage-search {args.command}: warning: {w}", file=sys.stderr)
    return SearchEngine(cfg, registry, SearchModels(cfg, clip_enabled=not args.no_clip)), cfg


def _read_photo(path: Path | None) -> bytes | None:
    from search.errors import SearchInputError
    from search.photo import MAX_PHOTO_BYTES, size_mib

    if path is None:
        return None
    try:
        if path.is_dir():
            raise SearchInputError(f"--photo {path} is a folder: give one image file (JPEG, PNG, WebP, BMP or TIFF)")
        size = path.stat().st_size
        if size > MAX_PHOTO_BYTES:
            raise SearchInputError(f"the photo is {size_mib(size)}; the limit is {size_mib(MAX_PHOTO_BYTES)}")
        return path.read_bytes()
    except OSError as exc:
        raise SearchInputError(f"cannot read the photo {path}: {exc.strerror or exc}") from None


def _box(text: str | None) -> tuple[float, float, float, float] | None:
    from search.errors import SearchInputError

    if not text:
        return None
    try:
        x1, y1, x2, y2 = (float(v) for v in text.split(","))
    except ValueError:
        raise SearchInputError(f"--photo-box {text!r}: expected X1,Y1,X2,Y2") from None
    return x1, y1, x2, y2


def run_query_command(args: argparse.Namespace, cfg: Config) -> int:
    from search.request import SearchRequest

    engine, cfg = _engine(args, cfg)
    req = SearchRequest(
        text=args.text, photo=_read_photo(args.photo), photo_box=_box(args.photo_box), like=args.like,
        time_from=args.time_from, time_to=args.time_to, districts=args.district, cameras=args.camera,
        direction=args.direction, direction_tolerance_deg=args.tolerance, min_detections=args.min_detections,
        min_duration_s=args.min_seconds, offset=args.offset, limit=args.limit, use_clip=not args.no_clip,
        include_weak=args.include_weak,
    )
    result = engine.search(req)
    if args.json:
        print(json.dumps(result.to_dict(engine.tz), ensure_ascii=False, indent=2))
    else:
        print("\n".join(query_lines(result, engine.tz)))
    return 0


def query_lines(result, tz) -> list[str]:
    from search.timeutil import iso

    lines = [result.message]
    lines += [f"note: {w}" for w in result.warnings]
    if result.sightings:
        lines.append(f"{'#':>3} {'score':>5}  {'camera':<12} {'district':<12} {'time':<25} {'dir':<3} "
                     f"{'file':<40} {'offset':>8}  box")
    for i, s in enumerate(result.sightings, start=result.offset + 1):
        score = "-" if s.score is None else f"{s.score:.2f}"
        box = ",".join(str(round(v)) for v in s.box)
        weak = " (weak)" if s.weak else ""
        lines.append(f"{i:>3} {score:>5}  {s.camera_id:<12} {s.district:<12} {iso(s.t_best, tz):<25} {s.direction:<3} "
                     f"{s.video_file[:40]:<40} {s.offset_best_s:>7.1f}s  {box}  [{s.sighting_id}]{weak}")
    if result.total > result.offset + len(result.sightings):
        lines.append(f"... {result.total - result.offset - len(result.sightings)} more (use --offset)")
    return lines


def run_route_command(args: argparse.Namespace, cfg: Config) -> int:
    from search.route import RouteRequest, build_route

    engine, cfg = _engine(args, cfg)
    req = RouteRequest(
        start_sighting_id=args.start, start_camera=args.camera, start_time=args.at, text=args.text,
        photo=_read_photo(args.photo), pinned=args.pin, rejected=args.reject, max_speed_mps=args.max_speed,
        forward_s=args.hours * 3600.0, backward_s=args.back_hours * 3600.0, time_from=args.time_from,
        time_to=args.time_to, districts=args.district, use_clip=not args.no_clip,
    )
    route = build_route(engine, req)
    if args.json:
        print(json.dumps(route.to_dict(engine.tz), ensure_ascii=False, indent=2))
    else:
        print("\n".join(route_lines(route, engine.tz)))
    return 0


def route_lines(route, tz) -> list[str]:
    from search.timeutil import iso

    lines = [route.message]
    lines += [f"note: {w}" for w in route.warnings]
    for k, st in enumerate(route.stops):
        what = "start (last seen)" if st.sighting is None else f"[{st.sighting.sighting_id}]"
        flags = " START" if st.is_start else (" PINNED" if st.pinned else "")
        lines.append(f"{k + 1:>2}. {iso(st.t_start, tz)}  {st.camera_id:<12} {st.district:<12} {what}{flags}")
        if st.sighting is not None:
            s = st.sighting
            box = ",".join(str(round(v)) for v in s.box)
            lines.append(f"      {s.video_file} @ {s.offset_best_s:.1f}s, box {box}, "
                         f"moving {s.direction}, score {'-' if s.score is None else f'{s.score:.2f}'}")
        if st.leg is not None and st.leg.distance_m > 0:
            lines.append(f"      from previous: {st.leg.distance_m:.0f} m in {st.leg.gap_s:.0f} s "
                         f"(needs {st.leg.speed_needed_mps:.2f} m/s)")
    for g in route.gaps:
        if g.cameras_between:
            also = ", ".join(g.cameras_between)
            lines.append(f"gap after stop {g.after_stop + 1} ({g.gap_s:.0f} s): also check {also}")
    if route.suggestions:
        lines.append("next cameras to check:")
        for c in route.suggestions:
            agree = "" if c.bearing_agreement is None else f", direction fit {c.bearing_agreement:+.2f}"
            foot = "" if c.has_footage else ", NO FOOTAGE indexed"
            lines.append(f"  {c.camera_id:<12} {c.district:<12} {c.distance_m:>6.0f} m  "
                         f"{iso(c.earliest, tz)} .. {iso(c.latest, tz)}{agree}{foot}")
    return lines


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run `footage-search query` or `footage-search route`")
