"""``footage-search ui``: start the operator console (on 127.0.0.1 unless told otherwise)."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.config import Config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ui", help="start the operator console in the browser (search, route, map, case export)",
        description="Start the operator console: search by description or photo, pin sightings, build the route "
                    "on a map, export a case report, and see or refresh what is indexed. Listens on "
                    "127.0.0.1 by default (ui.host/ui.port): only this machine can reach it. With users in the "
                    "users file (footage-search users add) it asks for a login; without, it runs open and refuses "
                    "any address but loopback.",
    )
    p.add_argument("--host", help="address to listen on (default ui.host, 127.0.0.1); anything but loopback "
                                  "needs users (login)")
    p.add_argument("--port", type=int, help="port (default ui.port, 7860)")
    p.add_argument("--index", dest="index_uri", help="index location (overrides storage.index_uri)")
    p.add_argument("--registry", type=Path,
                   help="camera registry CSV (default storage.registry_path, else ARCHIVE/cameras.csv)")
    p.add_argument("--archive", type=Path, help="archive folder the 'Start reindex' button indexes")
    p.add_argument("--districts", type=Path, metavar="GEOJSON",
                   help="district outlines for the map (default: drawn around each district's cameras)")
    p.add_argument("--cache-dir", type=Path, help="where thumbnails and exported reports are written")
    p.set_defaults(handler=run_ui_command)


def resolve_registry_path(args: argparse.Namespace, cfg: Config) -> Path:
    from core.errors import UserError

    if args.registry:
        return args.registry
    if cfg.storage.registry_path:
        return Path(cfg.storage.registry_path)
    if args.archive and (args.archive / "cameras.csv").is_file():
        return args.archive / "cameras.csv"
    from core.index_db import IndexDB
    from search.index_info import indexed_archive_registry

    found = indexed_archive_registry(IndexDB.open(cfg.storage))
    if found is not None:
        return found
    raise UserError("no camera registry: pass --registry FILE (or --archive FOLDER with a cameras.csv, "
                    "or set storage.registry_path)")


def run_ui_command(args: argparse.Namespace, cfg: Config) -> int:
    from core.errors import UserError
    from core.registry import load_registry
    from ui.access import check_bind_config
    from ui.app import launch

    if args.index_uri:
        cfg = cfg.with_overrides({"storage.index_uri": args.index_uri}, origin="command line", base_dir=Path.cwd())
    host = args.host or cfg.ui.host
    # first: an open console must never reach the network, whatever else is wrong
    open_mode, users_file = check_bind_config(host, cfg)
    if args.archive and not args.archive.is_dir():
        raise UserError(f"archive folder not found: {args.archive}")
    registry = load_registry(resolve_registry_path(args, cfg))
    mode = (f"OPEN: no login (no users in {users_file}), this machine only" if open_mode else
            f"login required (users: {users_file})")
    print(f"footage-search console on http://{host}:{args.port or cfg.ui.port}/ ({mode}; Ctrl+C to stop)",
          flush=True)
    launch(cfg, registry, host=args.host, port=args.port, archive=args.archive, districts_geojson=args.districts,
           cache_dir=args.cache_dir, block=True, quiet=True)
    return 0
