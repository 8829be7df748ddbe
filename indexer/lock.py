"""One indexer per index at a time: a lock file beside the tables.

A second ``footage-search index`` on the same index refuses at once with a message naming the
holder, instead of interleaving deletes and appends with the first.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from filelock import FileLock, Timeout

from footage_search.index_db import is_local, local_path


class IndexBusyError(RuntimeError):
    pass


@contextmanager
def indexer_lock(index_uri: str, wait_s: float = 0.0) -> Iterator[None]:
    if not is_local(index_uri):
        # Object stores have no file locks; Lance's own commit protocol still keeps tables consistent.
        yield
        return
    root = local_path(index_uri)
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(root / ".indexer.lock"))
    holder = root / ".indexer.holder"
    try:
        lock.acquire(timeout=wait_s)
    except Timeout:
        who = holder.read_text(encoding="utf-8") if holder.exists() else "{}"
        raise IndexBusyError(
            f"another indexer is already writing {root} ({who}); wait for it to finish, "
            "or pass --wait SECONDS to queue behind it"
        ) from None
    try:
        holder.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                      "since": time.strftime("%Y-%m-%d %H:%M:%S")}), encoding="utf-8")
        yield
    finally:
        holder.unlink(missing_ok=True)
        lock.release()
