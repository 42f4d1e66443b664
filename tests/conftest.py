"""One SparkSession for the whole suite (startup costs ~6 s), and small helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
FIXTURES = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session", autouse=True)
def no_claude_key() -> Iterator[None]:
    """No test reaches the real API: a key in the caller's environment is hidden for the whole session."""
    saved = {k: os.environ.pop(k) for k in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL") if k in os.environ}
    yield
    os.environ.update(saved)


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """A local[2] session with the settings segspark itself uses."""
    from segspark.config import load_config
    from segspark.session import get_spark

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # The shipped JVM options too (the parallel collector), as `segspark` itself starts its driver.
    java_options = load_config([]).get("spark.java_options")
    session = get_spark(
        {
            "master": "local[2]",
            "shuffle_partitions": 2,
            "driver_memory": "2g",
            "ui_enabled": False,
            "java_options": java_options,
        }
    )
    yield session
    session.stop()


@pytest.fixture
def warehouse(tmp_path: Path) -> str:
    """A fresh, validated warehouse root."""
    from segspark.paths import check_warehouse

    return check_warehouse(str(tmp_path / "wh"))


@pytest.fixture(scope="session")
def orii_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every 60th customer of the bundled Online Retail II (about 100 customers, 14k lines) plus some guest
    lines, as the source file a subprocess run reads with `--input`."""
    import numpy as np
    import pandas as pd

    df = pd.read_parquet(DATA / "online_retail_ii" / "online_retail_ii.parquet")
    ids = np.sort(df["Customer ID"].dropna().unique())
    keep = df["Customer ID"].isin(set(ids[::60])) | (df["Customer ID"].isna() & (df.index % 1000 == 0))
    path = tmp_path_factory.mktemp("orii") / "orii_slice.parquet"
    df[keep].to_parquet(path, index=False)
    return path


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package built as a wheel, as `make wheel` builds it."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(REPO)],
        check=True,
        timeout=600,
    )
    (path,) = out.glob("segspark-*.whl")
    return path


@pytest.fixture(scope="session")
def shop_run(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse of one `segspark run` on the shop export (tests/data/shop_export.*), shared by the tests
    that read a whole run's tables."""
    from segspark.cli import main

    root = tmp_path_factory.mktemp("shop") / "wh"
    code = main(
        [
            "run",
            "--source",
            str(FIXTURES / "shop_export.yaml"),
            "--as-of",
            "2023-06-01",
            "--set",
            f"warehouse.root={root}",
            "--set",
            "ingest.max_order_ts=2030-01-01",
            "--set",
            "fit.save_mllib=false",
            "--set",
            "fit.k_max=3",
            "--set",
            "history.backfill_offsets=[31]",
            "--set",
            "drift.baselines=[31]",
            "--set",
            "fit.min_segment_customers=1",  # a 3-customer export
        ]
    )
    assert code == 0
    return root
