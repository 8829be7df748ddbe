"""``footage-search``: the one command-line entry point.

The application shell: it sits above ``indexer``, ``search`` and ``ui``, each of which registers its
own subcommands, so this module only wires global options (config file, ``--set`` overrides,
verbosity) and error reporting: every :class:`~core.errors.FootageSearchError` (bad registry, missing
index, model mismatch, ...) and every path the user named that cannot be opened prints one readable
line and exits 2. Tracebacks are for ``-v``: the failure's own, and the details behind a warning
(e.g. why CLIP could not be loaded); without ``-v`` a warning is one line too.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Callable, Sequence

import case.cli as case_cli
import indexer.cli as indexer_cli
import search.cli as search_cli
import search.eval_cli as eval_cli
import ui.cli as ui_cli
from core.config import Config, load_config, parse_set_args
from core.errors import FootageSearchError
from footage_search import admin_cli, demo
from footage_search.cli_options import add_global_options

Handler = Callable[[argparse.Namespace, Config], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="footage-search",
        description="Find a missing person in archived CCTV footage: index archives, search by "
                    "description or photo, and chain sightings into a route across districts.",
    )
    add_global_options(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in (indexer_cli.register, search_cli.register, eval_cli.register, ui_cli.register, demo.register,
                     admin_cli.register, case_cli.register):
        register(sub)
    for subparser in sub.choices.values():
        add_global_options(subparser, suppress=True)
    return parser


# A path the user named that cannot be opened is theirs to fix, whichever library raised it.
USER_FIXABLE = (FootageSearchError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


class _NoLibraryRootRecords(logging.Filter):
    """Drops records logged straight to the root logger: libraries that do so (open_clip on a failed
    download) repeat, as a page, what this program's own one-line warning already says."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name != "root"


def configure_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    root.setLevel(level)
    for noisy in ("httpx", "urllib3", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    for handler in root.handlers:
        for f in [f for f in handler.filters if isinstance(f, _NoLibraryRootRecords)]:
            handler.removeFilter(f)
        if not verbose:
            handler.addFilter(_NoLibraryRootRecords())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        cfg = load_config(args.config, parse_set_args(args.overrides))
        handler: Handler = args.handler
        return handler(args, cfg)
    except USER_FIXABLE as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"footage-search {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"footage-search {args.command}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
