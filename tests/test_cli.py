"""The command line: exit codes and messages users see."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from segspark.cli import main
from tests.conftest import FIXTURES


def test_validate_over_threshold_exits_nonzero(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "wh"
    code = main(["validate", "--source", str(FIXTURES / "malformed_orders.yaml"), "--set", f"warehouse.root={root}"])
    assert code == 1
    err = capsys.readouterr().err
    assert "malformed, above ingest.max_malformed_fraction=1.00%" in err
    assert not (root / "orders").exists() and not (root / "rejects").exists()


def test_validate_prints_accounting(spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "wh"
    code = main(
        [
            "validate",
            "--source",
            str(FIXTURES / "shop_export.yaml"),
            "--set",
            f"warehouse.root={root}",
            "--set",
            "ingest.max_order_ts=2030-01-01",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "8 lines read" in out
    assert "valid lines       8 (3 customers, 1 return lines" in out


def test_bad_config_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--set", "ingest.nope=1"]) == 2
    assert "unknown configuration key 'ingest.nope'" in capsys.readouterr().err
