"""Nothing is written outside the warehouse or over a directory segspark did not create."""

from __future__ import annotations

from pathlib import Path

import pytest

from segspark.exc import PathError
from segspark.paths import check_warehouse, table_path


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
