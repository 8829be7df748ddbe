"""Where the console's own state lives (users, audit log) when the config does not say.

Beside the index folder, not inside it: the indexer's ``--rebuild`` drops the index's tables, and an
index rebuilt from the archive must not take the audit trail or the accounts with it.
"""

from __future__ import annotations

import hashlib
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


# Not the system temp dir: Gradio serves files from there (its upload folder is /tmp/gradio by default),
# so a second console, or any Gradio app on the host, could serve what this one wrote.
USER_CACHE = "~/.cache/footage-search/console"


def default_cache_dir(cfg: Config) -> Path:
    """The folder holding every console's own folder for this index: ``ui.cache_dir`` (or
    ``~/.cache/footage-search/console``) / a digest of the index location. ``purge`` cleans all of it."""
    base = expand(cfg.ui.cache_dir or USER_CACHE)
    uri = cfg.storage.index_uri
    where = str(local_path(uri).resolve()) if is_local(uri) else uri
    return base / hashlib.sha1(where.encode()).hexdigest()[:12]


def console_cache_dir(cfg: Config, port: int | None = None) -> Path:
    """One console's own folder (thumbnails, frames, exports, Gradio's uploads): per index and port, so
    two consoles on one host never share a file."""
    return default_cache_dir(cfg) / f"port-{port or cfg.ui.port}"
