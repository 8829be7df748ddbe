"""Where the console's own state lives (users, audit log) when the config does not say.

Beside the index folder, not inside it: the indexer's ``--rebuild`` drops the index's tables, and an
index rebuilt from the archive must not take the audit trail or the accounts with it.
"""

from __future__ import annotations

from pathlib import Path

from footage_search.config import Config, ConfigError, expand
from footage_search.index_db import is_local, local_path


def beside_index(cfg: Config, configured: str, default_name: str, setting: str) -> Path:
    """``configured`` if set, else ``default_name`` in the folder that holds the index folder."""
    if configured:
        return expand(configured)
    uri = cfg.storage.index_uri
    if not is_local(uri):
        # An object-store index has no folder beside it; guessing a local one would silently split
        # the audit trail between machines.
        raise ConfigError(f"the index is on object storage ({uri}): set {setting} to a local file")
    return local_path(uri).resolve().parent / default_name
