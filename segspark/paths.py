"""Warehouse paths: every table lives under one root, and nothing is written elsewhere.

Checks run before Spark starts. For local roots segspark also refuses to write
into an existing directory that is not one of its own tables (no `_commits`).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

from segspark.exc import PathError

TABLES = (
    "orders",
    "tickets",
    "rejects",
    "features",
    "models",
    "customer_profiles",
    "drift",
    "drift_population",
    "customer_state",
    "lookalikes",
    "reports",
    "runs",
)
# The partitioned tables and their partition key (the others are directories of files).
PARTITION_KEYS = {
    "orders": "source",
    "tickets": "source",
    "rejects": "source",
    "features": "snapshot_date",
    "customer_profiles": "snapshot_date",
    "drift": "snapshot_date",
    "drift_population": "snapshot_date",
    "customer_state": "snapshot_date",
    "lookalikes": "snapshot_date",
}
COMMITS = "_commits"
WAREHOUSE_MARKER = "_segspark_warehouse"
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.:-]+$")


def is_local(uri: str) -> bool:
    """True for plain paths and file:// URIs."""
    scheme = urlparse(uri).scheme
    return scheme in ("", "file") or (len(scheme) == 1)  # a Windows drive letter


def local_path(uri: str) -> Path:
    """The local filesystem path of a local URI."""
    return Path(urlparse(uri).path if uri.startswith("file:") else uri)


def normalise_root(root: str) -> str:
    """An absolute root for local paths (Spark and Python then agree), the URI otherwise."""
    return str(local_path(root).resolve()) if is_local(root) else root.rstrip("/")


def table_path(root: str, table: str, *parts: str) -> str:
    """Join a table (and partition parts) under the root, refusing anything that escapes it."""
    if table not in TABLES:
        raise PathError(f"unknown table {table!r}")
    for part in parts:
        key, _, value = part.partition("=")
        if not _SAFE_VALUE.match(key) or (value and not _SAFE_VALUE.match(value)) or ".." in part:
            raise PathError(f"unsafe path component {part!r} under table {table}")
    return "/".join([root.rstrip("/"), table, *parts])


def check_warehouse(root: str) -> str:
    """Validate the warehouse root before Spark starts; return its normalised form."""
    norm = normalise_root(root)
    if not is_local(norm):
        return norm  # remote stores are checked by Spark at write time
    path = Path(norm)
    if path.exists() and not path.is_dir():
        raise PathError(f"warehouse root {path} exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not (path / WAREHOUSE_MARKER).exists():
        foreign = sorted(p.name for p in path.iterdir() if p.name not in TABLES and not p.name.startswith("_"))
        if foreign:
            raise PathError(
                f"warehouse root {path} is a non-empty directory that segspark did not create "
                f"(found {foreign[:5]}); choose an empty or new directory with --set warehouse.root=..."
            )
    path.mkdir(parents=True, exist_ok=True)
    (path / WAREHOUSE_MARKER).touch()
    for table in TABLES:
        check_table_dir(norm, table)
    return norm


def check_table_dir(root: str, table: str) -> None:
    """Refuse a local table directory that holds data but is not a segspark table."""
    if not is_local(root):
        return
    path = Path(table_path(root, table))
    if not path.is_dir() or table in ("models", "reports", "runs"):
        return
    entries = [p for p in path.iterdir() if not p.name.startswith(".")]
    if entries and not (path / COMMITS).is_dir() and not all(_interrupted_write(p) for p in entries):
        raise PathError(
            f"{path} exists but is not a segspark table (no {COMMITS}/); "
            "segspark will not overwrite it. Move it away or use another warehouse.root."
        )


def _interrupted_write(partition: Path) -> bool:
    """A `key=value/run_id=.../` directory of segspark's own: a first write killed before its table had
    `_commits/` (written by versions before the marker directory came first)."""
    if not partition.is_dir() or "=" not in partition.name:
        return False
    runs = [p for p in partition.iterdir() if not p.name.startswith(".")]
    return all(p.is_dir() and p.name.startswith("run_id=") for p in runs)


STAGING = "_staging"


def staging_path(root: str, run_id: str) -> str:
    """A hidden scratch directory for one run, never read as a table."""
    return "/".join([root.rstrip("/"), STAGING, run_id])


STALE_STAGING_HOURS = 24


def clean_staging(root: str, *, now: float, older_than_hours: float = STALE_STAGING_HOURS) -> list[str]:
    """Delete what killed runs left under `<root>/_staging/` (local stores), and return the names removed.

    No reader looks there, so leftovers are harmless but pile up. A write in progress touches its directory
    at least at every file it adds; one untouched for `older_than_hours` belongs to a run that died, so a
    run starting beside a live one never removes the other's work.
    """
    if not is_local(root):
        return []
    staging = Path(local_path(staging_path(root, "")))
    if not staging.is_dir():
        return []
    removed = []
    for entry in sorted(staging.iterdir()):
        try:
            touched = max(
                [entry.lstat().st_mtime, *(c.lstat().st_mtime for c in entry.iterdir())]
                if entry.is_dir()
                else [entry.lstat().st_mtime]
            )
        except FileNotFoundError:  # removed meanwhile by the run that owns it
            continue
        if now - touched > older_than_hours * 3600:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry.name)
    return removed


def remove_staging(root: str, run_id: str) -> None:
    """Delete a run's scratch directory (local stores; elsewhere it is left, and ignored)."""
    if is_local(root):
        shutil.rmtree(local_path(staging_path(root, run_id)), ignore_errors=True)
