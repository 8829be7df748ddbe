"""Read-modify-write of bench/results/index_levers.json, one key per writer (several helpers share it)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from filelock import FileLock

LEVERS = Path(__file__).resolve().parent / "results" / "index_levers.json"


def update_levers(key: str, value: object, path: Path = LEVERS) -> None:
    """Replace ``key`` in the shared file, keeping every other writer's keys."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(Path(tempfile.gettempdir()) / "footage-search-index-levers.lock")):  # not in the tree
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        data[key] = value
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
    print(f"updated {path} [{key}]")
