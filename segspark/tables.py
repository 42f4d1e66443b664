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

A partition version may be made of several parts: an append (incremental
ingestion) writes only its own `run_id=R` directory and commits a marker that
lists the parts kept from the previous version plus the new one, each with
what its writer recorded (the ingestion ledger lives there). Readers read
exactly the listed parts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segspark.delta import DELTA_HELP, FORMAT_CONF, delta_available, use_format
from segspark.exc import MissingInputError, SegsparkError
from segspark.paths import COMMITS, is_local, local_path, table_path

log = logging.getLogger(__name__)

__all__ = [
    "DELTA_HELP", "Commit", "Part", "committed", "delta_available", "read_partitions", "use_format", "write_partition",
]  # fmt: skip

MARKER = T.StructType(
    [
        T.StructField("partition_key", T.StringType(), False),
        T.StructField("partition_value", T.StringType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("row_count", T.LongType(), False),
        T.StructField("schema_hash", T.StringType(), False),
        T.StructField("committed_ns", T.LongType(), False),
        # JSON list of {run_id, rows, info}: the data directories this version is made of.
        T.StructField("parts", T.StringType(), True),
    ]
)
PART_COLUMN = "_part"  # Delta only: which part (run) wrote a row


@dataclass(frozen=True)
class Part:
    """One data directory of a partition version, with what its writer recorded about it."""

    run_id: str
    rows: int
    info: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The part as plain data for the marker."""
        return {"run_id": self.run_id, "rows": self.rows, "info": dict(self.info)}


@dataclass(frozen=True)
class Commit:
    """What a committed partition version holds."""

    partition_value: str
    run_id: str
    row_count: int
    schema_hash: str
    committed_ns: int
    parts: tuple[Part, ...] = ()

    def part_ids(self) -> tuple[str, ...]:
        """The run ids whose data directories make up this version."""
        return tuple(p.run_id for p in self.parts) or (self.run_id,)

    def fingerprints(self) -> dict[str, Part]:
        """The parts that recorded the content fingerprint of their input, by fingerprint."""
        return {str(p.info["fingerprint"]): p for p in self.parts if p.info.get("fingerprint")}


def schema_hash(schema: T.StructType) -> str:
    """A short stable hash of a schema (names, types, nullability)."""
    return hashlib.sha256(schema.json().encode()).hexdigest()[:16]


def _format(spark: SparkSession) -> str:
    return str(spark.conf.get(FORMAT_CONF, "parquet"))


def write_partition(
    df: DataFrame,
    *,
    root: str,
    table: str,
    key: str,
    value: str,
    run_id: str,
    keep: Sequence[Part] = (),
    info: Mapping[str, Any] | None = None,
) -> Commit:
    """Write `df` as partition `key=value` of `table`, commit it, and return the commit.

    `df` must not contain the partition column; if it carries a column named
    `key`, every row must hold `value` (checked before anything is published).
    With `keep` (parts of the committed version), the new version is those
    parts plus this write (an append); without, this write replaces the
    partition. `info` is recorded with the new part in the marker.
    """
    if key in df.columns:
        stray = df.filter(F.col(key).isNull() | (F.col(key).cast("string") != F.lit(value))).limit(1).count()
        if stray:
            raise SegsparkError(f"refusing to write {table}: rows carry a {key} other than {value}")
        df = df.drop(key)
    spark = df.sparkSession
    started = time.perf_counter()
    if is_local(root):
        # The table is marked as segspark's before any data lands, so a first write killed midway leaves a
        # directory the next run recognises (paths.check_table_dir) rather than one it refuses.
        local_path(table_path(root, table, COMMITS)).mkdir(parents=True, exist_ok=True)
    if _format(spark) == "delta":
        written = _write_delta(df, table_path(root, table), key, value, run_id, [p.run_id for p in keep])
    else:
        data_dir = table_path(root, table, f"{key}={value}", f"run_id={run_id}")
        df.write.mode("overwrite").parquet(data_dir)
        written = spark.read.parquet(data_dir)
    new_hash = schema_hash(written.schema)
    if keep:
        previous = committed(spark, root=root, table=table, key=key).get(value)
        if previous is not None and previous.schema_hash != new_hash:
            raise SegsparkError(f"refusing to append to {table} {key}={value}: the schema differs from its parts'")
    part = Part(run_id, written.count(), dict(info or {}))
    parts = (*keep, part)
    commit = Commit(value, run_id, sum(p.rows for p in parts), new_hash, time.time_ns(), parts)
    _write_marker(spark, _marker_dir(root, table, key, value, run_id), key, commit)
    _drop_old_versions(root, table, key, value, keep=commit.part_ids())
    log.info(
        "committed %s/%s=%s: %d rows in %d part(s), %.1fs (run %s)",
        table,
        key,
        value,
        commit.row_count,
        len(parts),
        time.perf_counter() - started,
        run_id,
    )
    return commit


def _write_delta(df: DataFrame, path: str, key: str, value: str, run_id: str, keep: Sequence[str]) -> DataFrame:
    """Replace one partition of a Delta table, except the rows of the parts in `keep` (one atomic Delta
    commit); return the rows this write added."""
    condition = f"{key} = '{value}'"
    if keep:
        condition += f" AND {PART_COLUMN} NOT IN ({', '.join(repr(k) for k in keep)})"
    (
        df.withColumn(key, F.lit(value))
        .withColumn(PART_COLUMN, F.lit(run_id))
        .write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", condition)
        .partitionBy(key)
        .save(path)
    )
    added = df.sparkSession.read.format("delta").load(path)
    return added.filter((F.col(key) == F.lit(value)) & (F.col(PART_COLUMN) == F.lit(run_id))).drop(key, PART_COLUMN)


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
        "parts": json.dumps([p.as_dict() for p in commit.parts]),
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


def _read_markers(spark: SparkSession | None, commits_dir: str) -> list[dict[str, object]]:
    if is_local(commits_dir):
        base = local_path(commits_dir)
        return [json.loads(f.read_text()) for f in sorted(base.glob("*/run_id=*/marker.json"))] if base.is_dir() else []
    if spark is None:
        raise SegsparkError(f"reading the commits of {commits_dir} needs a Spark session")
    try:
        reader = spark.read.schema(MARKER).option("recursiveFileLookup", "true")
        return [r.asDict() for r in reader.json(commits_dir).collect()]  # one row per partition version
    except AnalysisException:
        return []


def _drop_old_versions(root: str, table: str, key: str, value: str, keep: Sequence[str]) -> None:
    """Delete data directories no longer listed and every older marker of the partition (local stores)."""
    if not is_local(root):
        return
    data = local_path(table_path(root, table, f"{key}={value}"))
    for old in data.glob("run_id=*"):
        if old.name.removeprefix("run_id=") not in keep:
            shutil.rmtree(old, ignore_errors=True)
    markers = local_path(_marker_dir(root, table, key, value, keep[-1])).parent
    for old in markers.glob("run_id=*"):
        if old.name != f"run_id={keep[-1]}":
            shutil.rmtree(old, ignore_errors=True)


def committed(spark: SparkSession | None, *, root: str, table: str, key: str) -> dict[str, Commit]:
    """Return the latest committed version of every partition of `table`, by value (no session is needed
    for a local warehouse)."""
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
            _parts(row.get("parts")) or (Part(str(row["run_id"]), int(row["row_count"])),),  # type: ignore[call-overload]
        )
        prev = latest.get(c.partition_value)
        if prev is None or (c.committed_ns, c.run_id) > (prev.committed_ns, prev.run_id):
            latest[c.partition_value] = c
    return latest


def _parts(text: object) -> tuple[Part, ...]:
    """The parts listed in a marker (markers written before parts existed list none)."""
    if not text:
        return ()
    return tuple(Part(str(p["run_id"]), int(p["rows"]), p.get("info") or {}) for p in json.loads(str(text)))


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
        if PART_COLUMN not in delta.columns:  # written before parts existed
            return delta.filter(F.col(key).isin(wanted))
        live = F.lit(False)
        for v in wanted:
            live = live | ((F.col(key) == F.lit(v)) & F.col(PART_COLUMN).isin(list(commits[v].part_ids())))
        return delta.filter(live).drop(PART_COLUMN)
    frames = [
        spark.read.parquet(
            *[table_path(root, table, f"{key}={v}", f"run_id={run}") for run in commits[v].part_ids()]
        ).withColumn(key, F.lit(v))
        for v in wanted
    ]
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out
