"""Shared helpers of the benchmark scripts: a local[2] session, timing, machine facts."""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pyspark.sql import DataFrame, SparkSession

from segspark.ingest.validate import validate
from segspark.mapping import load_mapping
from segspark.paths import check_warehouse
from segspark.session import get_spark
from segspark.tables import read_partitions

T = TypeVar("T")


def spark_local2(driver_memory: str = "8g") -> SparkSession:
    """The benchmark session: local[2], as the targets are stated for 2 cores."""
    return get_spark({"master": "local[2]", "shuffle_partitions": 8, "driver_memory": driver_memory})


def timed(label: str, fn: Callable[[], T]) -> tuple[T, float]:
    """Run fn, print and return its wall time."""
    started = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - started
    print(f"{label}: {seconds:.1f} s", flush=True)
    return out, seconds


def machine() -> str:
    """One line describing the machine."""
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}"


def setup_orii(description: str) -> tuple[bool, SparkSession, Path, DataFrame]:
    """Parse --skip-scale, start local[2], ingest Online Retail II into a temp warehouse.

    Returns (skip_scale, spark, temp_dir, canonical order lines).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--skip-scale", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    spark = spark_local2()
    tmp = Path(tempfile.mkdtemp(prefix="segspark-bench-"))
    root = check_warehouse(str(tmp / "wh"))
    timed(
        "ingest Online Retail II",
        lambda: validate(
            spark, load_mapping("online_retail_ii"), root=root, run_id="bench", max_malformed_fraction=0.01
        ),
    )
    orders = read_partitions(spark, root=root, table="orders", key="source").drop("source")
    return args.skip_scale, spark, tmp, orders
