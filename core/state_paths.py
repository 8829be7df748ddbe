"""Where the console's own state lives (users, audit log) when the config does not say.

Beside the index folder, not inside it: the indexer's ``--rebuild`` drops the index's tables, and an
index rebuilt from the archive must not take the audit trail or the accounts with it.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from core.config import Config, ConfigError, expand
from core.index_db import is_local, local_path


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


def default_cache_dir(cfg: Config) -> Path:
    """``ui.cache_dir``, else a per-index folder under the system temp dir (which Gradio may serve from)."""
    if cfg.ui.cache_dir:
        return Path(cfg.ui.cache_dir).expanduser()
    digest = hashlib.sha1(cfg.storage.index_uri.encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / "footage-search-console" / digest
