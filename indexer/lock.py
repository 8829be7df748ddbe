"""One indexer per index at a time: a lock file beside the tables.

A second ``footage-search index`` on the same index refuses at once with a message naming the
holder, instead of interleaving deletes and appends with the first.

On object storage (``s3://...``) there is no file to lock. What still holds there is Lance's own
optimistic commit protocol: every commit writes the table's next manifest version only if nobody else
wrote it first (a conditional put), and retries or fails otherwise, so a table is never corrupted and
readers always see whole commits. What does *not* hold is the indexer-level rule "one video's rows are
replaced by one writer": two indexers on the same videos could both delete and both append, doubling
those sightings. So run one indexer per index on object storage (one scheduled job, or one Ray driver);
the lock says so on every run.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from filelock import FileLock, Timeout

from core.errors import FootageSearchError
from core.index_db import is_local, local_path

log = logging.getLogger(__name__)


class IndexBusyError(FootageSearchError, RuntimeError):
    pass


@contextmanager
def indexer_lock(index_uri: str, wait_s: float = 0.0) -> Iterator[None]:
    if not is_local(index_uri):
        log.warning("no indexer lock on object storage (%s): Lance's commits keep every table consistent, "
                    "but two indexers on the same videos can duplicate rows, so run one indexer per index",
                    index_uri)
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
