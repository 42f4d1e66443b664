"""The naming cache: Claude's answers kept next to each model, so a refit asks again only for what changed."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CACHE_FILE = "naming_cache.json"


def load_cache(*model_dirs: str | None) -> dict[str, Any]:
    """The naming caches of the given model directories, merged (missing files are empty)."""
    cache: dict[str, Any] = {}
    for directory in model_dirs:
        if directory and (Path(directory) / CACHE_FILE).is_file():
            cache.update(json.loads((Path(directory) / CACHE_FILE).read_text()))
    return cache


def save_cache(model_directory: str, cache: Mapping[str, Any]) -> None:
    """Write the cache next to the manifest (atomically)."""
    path = Path(model_directory)
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / (CACHE_FILE + ".tmp")
    tmp.write_text(json.dumps(cache, indent=1, sort_keys=True))
    os.replace(tmp, path / CACHE_FILE)
