"""A snapshot write in its own process, told where to stop so the test can SIGKILL it there.

    python -m tests.crash_child ROOT DATE VERSION POINT

POINT is where the process announces itself on stdout and then waits to be killed:
  before       Spark is up, nothing written yet
  mid          inside the data write (tasks are slow; the test kills once files appear)
  after_data   the data is staged, the commit marker is not written
  commit       the marker's temporary file is written, not yet renamed into place
  publish      the version is staged whole, marker included, not yet exchanged with the visible one
  none         run to completion
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segspark import tables
from segspark.session import get_spark

TABLE = "customer_profiles"


def version_rows(spark: SparkSession, version: str, n: int = 400, partitions: int = 8) -> DataFrame:
    """Profile-like rows whose values depend on `version`."""
    return spark.range(n, numPartitions=partitions).select(
        F.format_string("C%04d", "id").alias("customer_id"),
        F.lit(version).alias("model_version"),
        (F.col("id") * F.lit(len(version))).cast("double").alias("lifetime_value"),
    )


def announce(word: str) -> None:
    print(word, flush=True)


def wait_forever() -> None:
    while True:
        time.sleep(60)


def slow(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    for batch in batches:
        time.sleep(1.0)  # each task takes a second, so the write lasts several seconds
        yield batch


def main(root: str, day: str, version: str, point: str) -> None:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = get_spark({"master": "local[2]", "shuffle_partitions": 2, "driver_memory": "1g"})
    df = version_rows(spark, version)
    if point == "before":
        announce("POINT")
        wait_forever()
    if point == "mid":
        df = df.mapInPandas(slow, df.schema)
        announce("WRITING")
    if point == "after_data":

        def stop_before_marker(*_: object, **__: object) -> None:
            announce("POINT")
            wait_forever()

        tables._write_marker = stop_before_marker  # type: ignore[assignment]
    if point == "commit":
        real_replace = os.replace

        def stop_in_rename(src: str, dst: str) -> None:
            if str(dst).endswith(tables.PARTITION_MARKER):
                announce("POINT")
                wait_forever()
            real_replace(src, dst)

        os.replace = stop_in_rename  # every module's os.replace: the marker is renamed in segspark.commits
    if point == "publish":

        def stop_before_publish(*_: object, **__: object) -> None:
            announce("POINT")
            wait_forever()

        tables._publish = stop_before_publish  # type: ignore[assignment]
    tables.write_partition(df, root=root, table=TABLE, key="snapshot_date", value=day, run_id=f"crash-{point}")
    announce("DONE")


if __name__ == "__main__":
    main(*sys.argv[1:5])
