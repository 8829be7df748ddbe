"""Pins and rejections from outside the process that runs a case (``footage-search case pin|reject``).

A running :class:`case.runner.CaseRunner` keeps the case in memory and saves it after every window, so
another process must not edit ``case.json`` under it: its edit would be overwritten at the next save.
Instead, a running case holds an exclusive lock on ``RUNNING`` in its folder, and a mark made from
outside is appended to ``MARKS`` (one JSON line each); the runner takes them in before its next window.
When no process holds ``RUNNING``, the mark is applied to the case file at once, under that lock, so
``case status`` shows it straight away. Both files live in the case folder (0700) and are 0600.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .state import CaseError

RUNNING_FILE = "RUNNING"
MARKS_FILE = "MARKS"


@dataclass(frozen=True)
class Mark:
    sighting_id: str
    pinned: bool  # False: rejected


@contextlib.contextmanager
def _locked(path: Path, mode: int) -> Iterator[int]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, mode)
        yield fd
    finally:
        os.close(fd)  # closing drops the lock


@contextlib.contextmanager
def _try_lock(folder: Path) -> Iterator[bool]:
    fd = os.open(folder / RUNNING_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            got = True
        except BlockingIOError:
            got = False
        yield got
    finally:
        os.close(fd)


@contextlib.contextmanager
def hold_running(folder: Path) -> Iterator[None]:
    """Held by the process that runs the case, for as long as it runs it: a second one is refused."""
    with _try_lock(folder) as got:
        if not got:
            raise CaseError(f"case {folder.name} is already running in another process; "
                            f"`footage-search case stop {folder.name}` ends it")
        yield


@contextlib.contextmanager
def not_running(folder: Path) -> Iterator[bool]:
    """Yields True, holding the case still, when no process runs it; False when one does."""
    with _try_lock(folder) as got:
        yield got


def post(folder: Path, mark: Mark) -> None:
    """Leave ``mark`` for the process running the case."""
    line = json.dumps({"sighting_id": mark.sighting_id, "pinned": mark.pinned}) + "\n"
    with _locked(folder / MARKS_FILE, fcntl.LOCK_EX) as fd:
        os.write(fd, line.encode("utf-8"))


def take(folder: Path) -> list[Mark]:
    """The marks left since the last call, in the order they were made (they are removed)."""
    path = folder / MARKS_FILE
    if not path.exists():
        return []
    with _locked(path, fcntl.LOCK_EX) as fd:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        os.ftruncate(fd, 0)
    marks = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            marks.append(Mark(str(item["sighting_id"]), bool(item["pinned"])))
        except (ValueError, KeyError, TypeError):
            raise CaseError(f"{path}: line {n} is not a mark; remove it and mark the sighting again") from None
    return marks
