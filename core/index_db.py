"""Opening the LanceDB index and reading its metadata; shared by the indexer (writes) and search (reads)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from core.config import StorageConfig
from core.errors import FootageSearchError
from core.schema import (
    META,
    META_CLIP_DIM,
    META_CLIP_MODEL,
    META_SCHEMA,
    META_SCHEMA_VERSION,
    SCHEMA_VERSION,
    SIGHTINGS,
)


class IndexNotFoundError(FootageSearchError, FileNotFoundError):
    pass


class ModelMismatchError(FootageSearchError, RuntimeError):
    """The index holds vectors from another CLIP model than the one configured."""


def is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def local_path(uri: str) -> Path:
    return Path(uri.removeprefix("file://")).expanduser()


@dataclass
class IndexDB:
    """A connection to the index database plus its key/value metadata."""

    uri: str
    storage_options: dict[str, str]
    # Readers that live long (the console, a search engine) keep table handles open and let LanceDB check
    # for a newer version on every read: each query sees the latest commit, without reopening tables.
    follow_writes: bool = False

    def __post_init__(self) -> None:
        # Imported here, not with the module: the indexer's worker processes import this module (through
        # indexer.run_plan) but never open the index, and lancedb costs each of them ~90 MB resident.
        import lancedb

        kwargs = {"read_consistency_interval": timedelta(0)} if self.follow_writes else {}
        self.db = lancedb.connect(self.uri, storage_options=self.storage_options or None, **kwargs)
        self._tables: dict[str, Any] = {}

    @classmethod
    def open(cls, storage: StorageConfig, *, must_exist: bool = False, follow_writes: bool = False) -> IndexDB:
        uri = storage.index_uri
        if is_local(uri):
            path = local_path(uri)
            if must_exist and not (path / f"{SIGHTINGS}.lance").exists():
                raise IndexNotFoundError(
                    f"no index at {path}: run `footage-search index ARCHIVE` first "
                    "(or set storage.index_uri)"
                )
            uri = str(path)
        return cls(uri=uri, storage_options=dict(storage.storage_options), follow_writes=follow_writes)

    def has_table(self, name: str) -> bool:
        return name in self.db.table_names()

    def table(self, name: str) -> Any:
        if not self.follow_writes:
            return self.db.open_table(name)
        if name not in self._tables:
            self._tables[name] = self.db.open_table(name)
        return self._tables[name]

    def meta(self) -> dict[str, str]:
        if not self.has_table(META):
            return {}
        rows = self.table(META).to_arrow().to_pylist()
        return {r["key"]: r["value"] for r in rows}

    def set_meta(self, values: dict[str, str]) -> None:
        data = pa.Table.from_pylist([{"key": k, "value": v} for k, v in values.items()], schema=META_SCHEMA)
        if not self.has_table(META):
            self.db.create_table(META, data=data)
            return
        (self.table(META).merge_insert("key").when_matched_update_all()
         .when_not_matched_insert_all().execute(data))

    def clip_model(self) -> str | None:
        return self.meta().get(META_CLIP_MODEL) or None

    def check_compatible(self, identity: str | None, dim: int) -> None:
        """Refuse to mix vectors of different models (or sizes) in one index."""
        meta = self.meta()
        version = meta.get(META_SCHEMA_VERSION)
        if version and version != SCHEMA_VERSION:
            raise ModelMismatchError(
                f"index at {self.uri} has schema version {version}, this program writes {SCHEMA_VERSION}: "
                "reindex into a new storage.index_uri (or `footage-search index --rebuild`)"
            )
        have_dim = meta.get(META_CLIP_DIM)
        if have_dim and int(have_dim) != dim:
            raise ModelMismatchError(
                f"index at {self.uri} holds {have_dim}-dimensional vectors but the configured CLIP model "
                f"makes {dim}: reindex with `footage-search index --rebuild`, or configure the model the "
                f"index was built with ({meta.get(META_CLIP_MODEL) or 'unknown'})"
            )
        have = meta.get(META_CLIP_MODEL)
        if have and identity and have != identity:
            raise ModelMismatchError(
                f"index at {self.uri} was built with CLIP {have}, but {identity} is configured: vectors of "
                "different models cannot be compared. Reindex with `footage-search index --rebuild`, or "
                f"set models.clip_model/clip_pretrained back to {have}"
            )


def sql_str(value: str) -> str:
    """A SQL string literal. Every value that reaches a LanceDB filter goes through here (or is a
    number formatted by the caller): user text is never pasted into SQL unquoted."""
    if not isinstance(value, str):
        raise TypeError(f"expected str, got {type(value).__name__}")
    if "\x00" in value:
        raise ValueError("NUL character in a filter value")
    return "'" + value.replace("'", "''") + "'"


def sql_in(column: str, values: list[str]) -> str:
    if not values:
        return "false"
    return f"{column} IN ({', '.join(sql_str(v) for v in values)})"
