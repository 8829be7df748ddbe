"""``footage-search``: the one command-line entry point.

Each concern registers its own subcommands (``indexer.cli``, ``search.cli``, ``ui.cli``), so this
module only wires global options (config file, ``--set`` overrides, verbosity) and error reporting:
expected problems (bad registry, missing index, model mismatch, ...) print one readable line and
exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from footage_search.config import Config, ConfigError, load_config, parse_set_args

Handler = Callable[[argparse.Namespace, Config], int]


class UserError(Exception):
    """An error the user can fix; printed without a traceback."""


def _expected_errors() -> tuple[type[BaseException], ...]:
    from footage_search.index_db import IndexNotFoundError, ModelMismatchError
    from footage_search.model_files import ModelFileError
    from footage_search.registry import RegistryError, UnknownCameraError
    from indexer.lock import IndexBusyError

    errors: list[type[BaseException]] = [
        UserError, ConfigError, RegistryError, UnknownCameraError, IndexNotFoundError,
        ModelMismatchError, ModelFileError, IndexBusyError, FileNotFoundError,
    ]
    try:
        from search.errors import SearchInputError

        errors.append(SearchInputError)
    except ImportError:
        pass
    return tuple(errors)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="footage-search",
        description="Find a missing person in archived CCTV footage: index archives, search by "
                    "description or photo, and chain sightings into a route across districts.",
    )
    _add_global_options(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from indexer.cli import register as register_indexer

    register_indexer(sub)
    for module in ("search.cli", "ui.cli", "footage_search.demo", "footage_search.admin_cli"):
        try:
            mod = __import__(module, fromlist=["register"])
        except ImportError as exc:  # pragma: no cover - only while a part is being built
            logging.getLogger(__name__).debug("no subcommands from %s: %s", module, exc)
            continue
        mod.register(sub)
    for subparser in sub.choices.values():
        _add_global_options(subparser, suppress=True)
    return parser


def _add_global_options(parser: argparse.ArgumentParser, suppress: bool = False) -> None:
    """The global options, accepted before or after the subcommand (``index --set k=v`` works too)."""
    default = {"default": argparse.SUPPRESS} if suppress else {}
    parser.add_argument("--config", metavar="FILE", help="TOML config file (default ./footage-search.toml)",
                        **default)
    parser.add_argument("--set", dest="overrides", action="append", metavar="SECTION.KEY=VALUE",
                        help="override one config value; repeatable (e.g. --set index.sample_fps=2)", **default)
    parser.add_argument("-v", "--verbose", action="count",
                        help="more logging (-vv for debug)", **(default or {"default": 0}))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "urllib3", "huggingface_hub", "root"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    expected = _expected_errors()
    try:
        cfg = load_config(args.config, parse_set_args(args.overrides))
        handler: Handler = args.handler
        return handler(args, cfg)
    except expected as exc:
        print(f"footage-search {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"footage-search {args.command}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
