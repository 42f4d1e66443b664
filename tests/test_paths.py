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
