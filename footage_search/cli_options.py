"""The global options every ``footage-search`` command takes, before or after its name."""

from __future__ import annotations

import argparse


def add_global_options(parser: argparse.ArgumentParser, suppress: bool = False) -> None:
    """Add ``--config``, ``--set`` and ``-v``; ``suppress`` for subparsers, so that a value given
    before the subcommand is not reset by the subparser's default (``index --set k=v`` works too)."""
    default = {"default": argparse.SUPPRESS} if suppress else {}
    parser.add_argument("--config", metavar="FILE", help="TOML config file (default ./footage-search.toml)",
                        **default)
    parser.add_argument("--set", dest="overrides", action="append", metavar="SECTION.KEY=VALUE",
                        help="override one config value; repeatable (e.g. --set index.sample_fps=2)", **default)
    parser.add_argument("-v", "--verbose", action="count",
                        help="more logging (-vv for debug)", **(default or {"default": 0}))
