"""Commit markers: what a committed partition version holds, written last and read first.

A marker records the version's row count, schema hash, the run that wrote it, when, and its parts (the
data each writer added, with what it recorded: the ingestion ledger lives there). An open partition keeps
its marker inside the partition directory (`_segspark_commit.json`, skipped by every reader); the
run-directory layout of object stores and Delta keeps it under `<table>/_commits/<key>=<value>/run_id=R/`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from segspark.exc import SegsparkError
from segspark.paths import COMMITS, is_local, local_path, table_path

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
PARTITION_MARKER = "_segspark_commit.json"  # an open partition's commit, inside the partition directory
OPEN, RUNS = "open", "runs"  # layouts: open partition directories (local), run directories + _commits/


@dataclass(frozen=True)
class Part:
    """One data directory of a partition version, with what its writer recorded about it."""

    run_id: str
    rows: int
    info: Mapping[str, Any] = field(default_factory=dict)
    # Its data files' names, in an open partition directory (run-directory parts own their directory).
    files: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The part as plain data for the marker."""
        out = {"run_id": self.run_id, "rows": self.rows, "info": dict(self.info)}
        return {**out, "files": list(self.files)} if self.files else out


@dataclass(frozen=True)
class Commit:
    """What a committed partition version holds."""

    partition_value: str
    run_id: str
    row_count: int
    schema_hash: str
    committed_ns: int
    parts: tuple[Part, ...] = ()
    layout: str = RUNS

    def part_ids(self) -> tuple[str, ...]:
        """The run ids whose data directories make up this version."""
        return tuple(p.run_id for p in self.parts) or (self.run_id,)

    def fingerprints(self) -> dict[str, Part]:
        """The parts that recorded the content fingerprint of their input, by fingerprint."""
        return {str(p.info["fingerprint"]): p for p in self.parts if p.info.get("fingerprint")}


def schema_hash(schema: T.StructType) -> str:
    """A short stable hash of a schema (names, types, nullability)."""
    return hashlib.sha256(schema.json().encode()).hexdigest()[:16]


def marker_dir(root: str, table: str, key: str, value: str, run_id: str) -> str:
    return "/".join([table_path(root, table), COMMITS, f"{key}={value}", f"run_id={run_id}"])


def write_marker(spark: SparkSession | None, marker_dir: str, key: str, commit: Commit) -> None:
    name = PARTITION_MARKER if commit.layout == OPEN else "marker.json"
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
        tmp = path / f".{name}.tmp"
        tmp.write_text(json.dumps(row))
        os.replace(tmp, path / name)
        return
    if spark is None:
        raise SegsparkError(f"writing the commit marker of {marker_dir} needs a Spark session")
    spark.createDataFrame([tuple(row.values())], MARKER).coalesce(1).write.mode("overwrite").json(marker_dir)


def read_markers(spark: SparkSession | None, commits_dir: str) -> list[dict[str, object]]:
    if is_local(commits_dir):
        base = local_path(commits_dir)
        runs = [json.loads(f.read_text()) for f in sorted(base.glob("*/run_id=*/marker.json"))]
        opened = [
            {**json.loads(f.read_text()), "layout": OPEN} for f in sorted(base.parent.glob(f"*/{PARTITION_MARKER}"))
        ]
        return runs + opened
    if spark is None:
        raise SegsparkError(f"reading the commits of {commits_dir} needs a Spark session")
    try:
        reader = spark.read.schema(MARKER).option("recursiveFileLookup", "true")
        return [r.asDict() for r in reader.json(commits_dir).collect()]  # one row per partition version
    except AnalysisException:
        return []


def committed(spark: SparkSession | None, *, root: str, table: str, key: str) -> dict[str, Commit]:
    """Return the latest committed version of every partition of `table`, by value (no session is needed
    for a local warehouse)."""
    commits_dir = "/".join([table_path(root, table), COMMITS])
    rows = [r for r in read_markers(spark, commits_dir) if r["partition_key"] == key]
    latest: dict[str, Commit] = {}
    for row in rows:
        c = Commit(
            str(row["partition_value"]),
            str(row["run_id"]),
            int(row["row_count"]),  # type: ignore[call-overload]
            str(row["schema_hash"]),
            int(row["committed_ns"]),  # type: ignore[call-overload]
            _parts(row.get("parts")) or (Part(str(row["run_id"]), int(row["row_count"])),),  # type: ignore[call-overload]
            str(row.get("layout") or RUNS),
        )
        prev = latest.get(c.partition_value)
        if prev is None or (c.committed_ns, c.run_id) > (prev.committed_ns, prev.run_id):
            latest[c.partition_value] = c
    return latest


def _parts(text: object) -> tuple[Part, ...]:
    """The parts listed in a marker (markers written before parts existed list none)."""
    if not text:
        return ()
    return tuple(
        Part(str(p["run_id"]), int(p["rows"]), p.get("info") or {}, tuple(p.get("files") or ()))
        for p in json.loads(str(text))
    )
