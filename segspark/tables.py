"""The one write path for partitioned tables, and the reader that trusts only commits.

Layout of a table partition written by run R:

    <root>/<table>/<key>=<value>/run_id=R/part-*.parquet     the data
    <root>/<table>/_commits/<key>=<value>/run_id=R/*.json    the commit marker

Data goes to a directory no reader looks at until its marker exists, and the
marker (row count, schema hash, run id, commit sequence) is written last. A
run killed at any point therefore leaves the previous committed version of
the partition readable, and partitions of other values are never touched.
Directories starting with `_` are invisible to Spark's partition discovery.
After a commit, older versions of the same partition are deleted (local
stores; on object stores they are left and ignored).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segspark.exc import MissingInputError, SegsparkError
from segspark.paths import COMMITS, is_local, local_path, table_path

log = logging.getLogger(__name__)

MARKER = T.StructType(
    [
        T.StructField("partition_key", T.StringType(), False),
        T.StructField("partition_value", T.StringType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("row_count", T.LongType(), False),
        T.StructField("schema_hash", T.StringType(), False),
        T.StructField("committed_ns", T.LongType(), False),
    ]
)


@dataclass(frozen=True)
class Commit:
    """What a committed partition version holds."""

    partition_value: str
    run_id: str
    row_count: int
    schema_hash: str
    committed_ns: int


def schema_hash(schema: T.StructType) -> str:
    """A short stable hash of a schema (names, types, nullability)."""
    return hashlib.sha256(schema.json().encode()).hexdigest()[:16]


FORMAT_CONF = "segspark.warehouse.format"
DELTA_HELP = (
    "warehouse.format is delta but Delta Lake is not available in this Spark session. "
    "On Databricks Delta is built in. Elsewhere start Spark with the Delta jars: "
    "`--config conf/delta.yaml` (an overlay setting spark.jars.packages, spark.sql.extensions and "
    "spark.sql.catalog.spark_catalog; edit the delta-spark version to match your Spark), "
    "or `spark-submit --packages io.delta:delta-spark_2.13:<version> ...`. "
    "Or keep the default: --set warehouse.format=parquet."
)


def use_format(spark: SparkSession, fmt: str) -> None:
    """Make `fmt` (parquet or delta) the table format of this session; fail at once if Delta is missing."""
    if fmt == "delta" and not delta_available(spark):
        raise SegsparkError(DELTA_HELP)
    spark.conf.set(FORMAT_CONF, fmt)


def delta_available(spark: SparkSession) -> bool:
    """Whether the `delta` data source resolves in this session (no data is read)."""
    try:
        spark.read.format("delta").load("/nonexistent/segspark-delta-probe").schema  # noqa: B018
    except Exception as err:  # the error type differs between classic Spark and Spark Connect
        text = str(err)
        return "DATA_SOURCE_NOT_FOUND" not in text and "Failed to find the data source" not in text
    return True


def _format(spark: SparkSession) -> str:
    return str(spark.conf.get(FORMAT_CONF, "parquet"))


def write_partition(df: DataFrame, *, root: str, table: str, key: str, value: str, run_id: str) -> Commit:
    """Write `df` as partition `key=value` of `table`, commit it, and return the commit.

    `df` must not contain the partition column; if it carries a column named
    `key`, every row must hold `value` (checked before anything is published).
    """
    if key in df.columns:
        stray = df.filter(F.col(key).isNull() | (F.col(key).cast("string") != F.lit(value))).limit(1).count()
        if stray:
            raise SegsparkError(f"refusing to write {table}: rows carry a {key} other than {value}")
        df = df.drop(key)
    spark = df.sparkSession
    started = time.perf_counter()
    if _format(spark) == "delta":
        written = _write_delta(df, table_path(root, table), key, value)
    else:
        data_dir = table_path(root, table, f"{key}={value}", f"run_id={run_id}")
        df.write.mode("overwrite").parquet(data_dir)
        written = spark.read.parquet(data_dir)
    commit = Commit(value, run_id, written.count(), schema_hash(written.schema), time.time_ns())
    _write_marker(spark, _marker_dir(root, table, key, value, run_id), key, commit)
    _drop_old_versions(root, table, key, value, keep=run_id)
    log.info(
        "committed %s/%s=%s: %d rows in %.1fs (run %s)",
        table,
        key,
        value,
        commit.row_count,
        time.perf_counter() - started,
        run_id,
    )
    return commit


def _write_delta(df: DataFrame, path: str, key: str, value: str) -> DataFrame:
    """Replace exactly one partition of a Delta table (one atomic Delta commit); return what it now holds."""
    condition = f"{key} = '{value}'"
    (
        df.withColumn(key, F.lit(value))
        .write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", condition)
        .partitionBy(key)
        .save(path)
    )
    return df.sparkSession.read.format("delta").load(path).filter(F.col(key) == F.lit(value)).drop(key)


def _marker_dir(root: str, table: str, key: str, value: str, run_id: str) -> str:
    return "/".join([table_path(root, table), COMMITS, f"{key}={value}", f"run_id={run_id}"])


def _write_marker(spark: SparkSession, marker_dir: str, key: str, commit: Commit) -> None:
    row = {
        "partition_key": key,
        "partition_value": commit.partition_value,
        "run_id": commit.run_id,
        "row_count": commit.row_count,
        "schema_hash": commit.schema_hash,
        "committed_ns": commit.committed_ns,
    }
    if is_local(marker_dir):
        # One small file, renamed into place: it exists whole or not at all.
        path = local_path(marker_dir)
        path.mkdir(parents=True, exist_ok=True)
        tmp = path / ".marker.json.tmp"
        tmp.write_text(json.dumps(row))
        os.replace(tmp, path / "marker.json")
        return
    spark.createDataFrame([tuple(row.values())], MARKER).coalesce(1).write.mode("overwrite").json(marker_dir)


def _read_markers(spark: SparkSession, commits_dir: str) -> list[dict[str, object]]:
    if is_local(commits_dir):
        base = local_path(commits_dir)
        return [json.loads(f.read_text()) for f in sorted(base.glob("*/run_id=*/marker.json"))] if base.is_dir() else []
    try:
        reader = spark.read.schema(MARKER).option("recursiveFileLookup", "true")
        return [r.asDict() for r in reader.json(commits_dir).collect()]  # one row per partition version
    except AnalysisException:
        return []


def _drop_old_versions(root: str, table: str, key: str, value: str, keep: str) -> None:
    if not is_local(root):
        return
    for base in (
        local_path(table_path(root, table, f"{key}={value}")),
        local_path(_marker_dir(root, table, key, value, keep)).parent,
    ):
        for old in base.glob("run_id=*"):
            if old.name != f"run_id={keep}":
                shutil.rmtree(old, ignore_errors=True)


def committed(spark: SparkSession, *, root: str, table: str, key: str) -> dict[str, Commit]:
    """Return the latest committed version of every partition of `table`, by value."""
    commits_dir = "/".join([table_path(root, table), COMMITS])
    rows = [r for r in _read_markers(spark, commits_dir) if r["partition_key"] == key]
    latest: dict[str, Commit] = {}
    for row in rows:
        c = Commit(
            str(row["partition_value"]),
            str(row["run_id"]),
            int(row["row_count"]),  # type: ignore[call-overload]
            str(row["schema_hash"]),
            int(row["committed_ns"]),  # type: ignore[call-overload]
        )
        prev = latest.get(c.partition_value)
        if prev is None or (c.committed_ns, c.run_id) > (prev.committed_ns, prev.run_id):
            latest[c.partition_value] = c
    return latest


def read_partitions(
    spark: SparkSession, *, root: str, table: str, key: str, values: list[str] | None = None
) -> DataFrame:
    """Read the committed versions of the given partitions (all when None), with `key` as a column."""
    commits = committed(spark, root=root, table=table, key=key)
    wanted = sorted(commits) if values is None else values
    missing = [v for v in wanted if v not in commits]
    if missing or not wanted:
        raise MissingInputError(
            f"table {table} has no committed partition {key}={missing or '(any)'} under {root}; "
            "run the step that writes it first"
        )
    if _format(spark) == "delta":
        delta = spark.read.format("delta").load(table_path(root, table))
        return delta.filter(F.col(key).isin(wanted))
    frames = [
        spark.read.parquet(table_path(root, table, f"{key}={v}", f"run_id={commits[v].run_id}")).withColumn(
            key, F.lit(v)
        )
        for v in wanted
    ]
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


STAGING = "_staging"


def staging_path(root: str, run_id: str) -> str:
    """A hidden scratch directory for one run, never read as a table."""
    return "/".join([root.rstrip("/"), STAGING, run_id])


def remove_staging(root: str, run_id: str) -> None:
    """Delete a run's scratch directory (local stores; elsewhere it is left, and ignored)."""
    if is_local(root):
        shutil.rmtree(local_path(staging_path(root, run_id)), ignore_errors=True)
