"""Nothing is written outside the warehouse or over a directory segspark did not create."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from segspark.exc import PathError
from segspark.paths import check_warehouse, clean_staging, table_path


def test_foreign_root_refused(tmp_path: Path) -> None:
    (tmp_path / "holiday_photos").mkdir()
    with pytest.raises(PathError, match="did not create"):
        check_warehouse(str(tmp_path))


def test_foreign_table_dir_refused(tmp_path: Path) -> None:
    root = check_warehouse(str(tmp_path / "wh"))
    (Path(root) / "orders").mkdir()
    (Path(root) / "orders" / "precious.csv").write_text("x")
    with pytest.raises(PathError, match="not a segspark table"):
        check_warehouse(root)


def test_a_first_write_killed_before_its_commit_does_not_lock_the_table(tmp_path: Path) -> None:
    # Left by a run killed during the first write of drift/ (seen at 5M lines): the partition's staging
    # directory, no _commits/ yet. The next run must accept it; anything else in the directory stays refused.
    root = check_warehouse(str(tmp_path / "wh"))
    staged = Path(root) / "drift" / "snapshot_date=2024-06-01" / "run_id=r1" / "_temporary" / "0"
    staged.mkdir(parents=True)
    (staged / "part-00000.parquet").write_text("x")
    assert check_warehouse(root) == root
    (Path(root) / "drift" / "snapshot_date=2024-06-01" / "notes.txt").write_text("mine")
    with pytest.raises(PathError, match="not a segspark table"):
        check_warehouse(root)


def test_new_root_is_created_and_marked(tmp_path: Path) -> None:
    root = check_warehouse(str(tmp_path / "a" / "b"))
    assert (Path(root) / "_segspark_warehouse").exists()
    assert check_warehouse(root) == root  # idempotent


@pytest.mark.parametrize("part", ["snapshot_date=../../etc", "../x", "a=b/c"])
def test_partition_values_cannot_escape(part: str) -> None:
    with pytest.raises(PathError):
        table_path("/wh", "features", part)


def test_unknown_table_refused() -> None:
    with pytest.raises(PathError, match="unknown table"):
        table_path("/wh", "../../tmp")


def test_stale_staging_is_removed_when_a_run_starts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Leftovers of killed runs under _staging/ go when the next run starts; a write still in progress (touched
    recently, even if its directory is old) stays."""
    from segspark.config import load_config
    from segspark.context import make_context

    root = tmp_path / "wh"
    staging = root / "_staging"
    dead = staging / "r1.features.snapshot_date=2024-01-01"
    live = staging / "r2.features.snapshot_date=2024-01-08"
    scratch = staging / "r1"  # an ingest's scratch directory
    for d in (dead, live, scratch):
        d.mkdir(parents=True)
        (d / "part-0.parquet").write_bytes(b"x")
    day = 24 * 3600
    now = time.time()
    for path in (dead, dead / "part-0.parquet", scratch, scratch / "part-0.parquet", live):
        os.utime(path, (now - 2 * day, now - 2 * day))
    os.utime(live / "part-0.parquet", (now - 60, now - 60))  # a file added a minute ago: a live write

    assert clean_staging(str(root), now=now) == ["r1", "r1.features.snapshot_date=2024-01-01"]
    assert sorted(p.name for p in staging.iterdir()) == [live.name]
    assert clean_staging(str(root), now=now + 2 * day) == [live.name]
    assert clean_staging(str(tmp_path / "nowhere"), now=now) == []

    # make_context does it and says so.
    dead.mkdir()
    os.utime(dead, (now - 2 * day, now - 2 * day))
    ctx = make_context(load_config(sets=[f"warehouse.root={root}"]), say=print)
    assert ctx.summary["staging_removed"] == [dead.name] and not dead.exists()
    assert "removed 1 leftover(s) of killed runs" in capsys.readouterr().out
