"""The command line: exit codes and messages users see."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from segspark.cli import main
from tests.conftest import FIXTURES, REPO


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


def test_console_shows_progress_and_sends_logs_to_the_run(tmp_path: Path) -> None:
    """A command in its own process: stdout has segspark's progress, stderr nothing of Spark's or the JVM's;
    both go to the run's log files (with -v they come back to stderr)."""
    root = tmp_path / "wh"
    cmd = [
        sys.executable,
        "-m",
        "segspark.cli",
        "validate",
        "--source",
        str(FIXTURES / "shop_export.yaml"),
        "--set",
        f"warehouse.root={root}",
        "--set",
        "ingest.max_order_ts=2030-01-01",
        "--set",
        "spark.master=local[1]",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "valid lines       8 (3 customers" in done.stdout
    assert done.stderr == ""  # no Spark banner, log4j line, incubator notice or INFO line
    (logs,) = root.glob("runs/*/")
    assert "started local Spark" in (logs / "segspark.log").read_text()
    assert "committed orders/source=shop_export" in (logs / "segspark.log").read_text()
    assert (logs / "spark.log").exists()

    verbose = subprocess.run([*cmd, "-v"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert verbose.returncode == 0 and "INFO  started local Spark" in verbose.stderr
