"""Shared helpers of the benchmark scripts: a local[2] session, timing, machine facts."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from typing import TypeVar

from pyspark.sql import SparkSession

from segspark.session import get_spark

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
