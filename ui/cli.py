"""``footage-search ui``: start the operator console (on 127.0.0.1 unless told otherwise)."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path

from core.config import Config
from core.registry import CameraRegistry

log = logging.getLogger(__name__)


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


def console_registry(args: argparse.Namespace, cfg: Config) -> CameraRegistry:
    """The registry the console runs with (``--registry``, ``storage.registry_path``, ``--archive``'s
    cameras.csv, else the one the index was built with: see :func:`search.cli.registry_for_index`);
    its warnings are printed as one line each."""
    from core.index_db import IndexDB
    from search.cli import registry_for_index

    registry, warnings = registry_for_index(IndexDB.open(cfg.storage), cfg, args.registry, args.archive)
    for w in warnings:
        print(f"footage-search ui: warning: {w}", file=sys.stderr)
    return registry


def warn_unavailable_models(cfg: Config) -> None:
    """Print one line per model the console will have to do without (``footage-search status`` has the
    full list); the operator reads it at start instead of finding out from the first search."""
    from core.model_report import unavailable_lines

    try:
        lines = unavailable_lines(cfg)
    except Exception as exc:  # a failed check must not put a page of traceback under the console's address
        log.warning("could not check the models (`footage-search status` lists them): %s", exc)
        log.info("why the model check failed:", exc_info=exc)
        return
    for line in lines:
        print(f"footage-search ui: warning: {line}", file=sys.stderr, flush=True)


def run_ui_command(args: argparse.Namespace, cfg: Config) -> int:
    from core.errors import UserError
    from ui.access import check_bind_config
    from ui.app import launch
    from ui.tile_source import tile_source

    if args.index_uri:
        cfg = cfg.with_overrides({"storage.index_uri": args.index_uri}, origin="command line", base_dir=Path.cwd())
    host = args.host or cfg.ui.host
    # first: an open console must never reach the network, whatever else is wrong
    open_mode, users_file = check_bind_config(host, cfg)
    if args.archive and not args.archive.is_dir():
        raise UserError(f"archive folder not found: {args.archive}")
    registry = console_registry(args, cfg)
    tile_source(cfg.ui)  # a bad street-map setting is one line before the console says it is up
    mode = (f"OPEN: no login (no users in {users_file}), this machine only" if open_mode else
            f"login required (users: {users_file})")
    print(f"footage-search console on http://{host}:{args.port or cfg.ui.port}/ ({mode}; Ctrl+C to stop)",
          flush=True)
    # Looking for CLIP's weights can take seconds (open_clip's import, in a child process): not before the page.
    threading.Thread(target=warn_unavailable_models, args=(cfg,), name="model-check", daemon=True).start()
    launch(cfg, registry, host=args.host, port=args.port, archive=args.archive, districts_geojson=args.districts,
           cache_dir=args.cache_dir, block=True, quiet=True)
    return 0
