"""The one write path for partitioned tables, and the reader that trusts only commits.

On a local warehouse (the default) every table is an open table: a plain Hive-partitioned Parquet
directory that pandas, pyarrow, DuckDB and Spark read with no segspark code, seeing exactly the
committed rows once:

    <root>/<table>/<key>=<value>/part-*.parquet              the committed version's data, nothing else
    <root>/<table>/<key>=<value>/_segspark_commit.json       its commit marker (ignored by readers: `_`)
    <root>/_staging/<run>.<table>.<key>=<value>/             a version being written (outside every table)

A version is written whole in staging, marker included, and then published by one atomic directory
exchange (Linux `renameat2(RENAME_EXCHANGE)`): a reader lists either the old directory or the new one,
never a mixture, never a gap. A run killed before the exchange leaves only staging behind, which no
table reader reaches. An append (incremental ingestion) hard-links the files of the parts it keeps into
the new version, so a partition version may be made of several parts; the marker lists them, each with
its files and what its writer recorded (the ingestion ledger lives there).

Object stores have no atomic directory exchange, and Delta tables have their own log. There the layout
below is kept: readers other than segspark's must go through Delta (or segspark's reader):

    <root>/<table>/<key>=<value>/run_id=R/part-*.parquet     the data
    <root>/<table>/_commits/<key>=<value>/run_id=R/*.json    the commit marker

Data goes to a run directory no reader looks at until its marker exists; the marker is written last
(segspark.commits), and older versions are deleted after a commit (local stores; elsewhere left, ignored).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segspark.commits import OPEN, PARTITION_MARKER, RUNS, Commit, Part, committed, marker_dir, schema_hash
from segspark.commits import write_marker as _write_marker
from segspark.delta import DELTA_HELP, FORMAT_CONF, delta_available, use_format
from segspark.exc import MissingInputError, SegsparkError
from segspark.paths import COMMITS, PARTITION_KEYS, is_local, local_path, staging_path, table_path
from segspark.swap import exchange, link_part
from segspark.swap import publish as _publish

log = logging.getLogger(__name__)

__all__ = [
    "DELTA_HELP",
    "OPEN",
    "PARTITION_MARKER",
    "RUNS",
    "Commit",
    "Part",
    "committed",
    "delta_available",
    "exchange",
    "read_partitions",
    "read_table",
    "use_format",
    "write_partition",
]

PART_COLUMN = "_part"  # Delta only: which part (run) wrote a row


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
    if is_local(root) and _format(spark) != "delta":
        commit = _write_open(df, root=root, table=table, key=key, value=value, run_id=run_id, keep=keep, info=info)
    else:
        commit = _write_runs(df, root=root, table=table, key=key, value=value, run_id=run_id, keep=keep, info=info)
    log.info(
        "committed %s/%s=%s: %d rows in %d part(s), %.1fs (run %s)",
        table,
        key,
        value,
        commit.row_count,
        len(commit.parts),
        time.perf_counter() - started,
        run_id,
    )
    return commit


def _write_open(
    df: DataFrame,
    *,
    root: str,
    table: str,
    key: str,
    value: str,
    run_id: str,
    keep: Sequence[Part],
    info: Mapping[str, Any] | None,
) -> Commit:
    """Stage the whole new version (data, kept parts' files, marker), then publish it by one exchange."""
    spark = df.sparkSession
    visible = local_path(table_path(root, table, f"{key}={value}"))
    # One flat staging directory per write: concurrent writes of a run (backfill threads) share no parent
    # that one of them could remove, and a published write leaves nothing behind.
    staged = local_path(staging_path(root, f"{run_id}.{table}.{key}={value}"))
    if staged.exists():  # an earlier attempt of this run
        shutil.rmtree(staged)
    df.write.mode("overwrite").parquet(staged.as_posix())
    written = spark.read.parquet(staged.as_posix())
    new_hash = schema_hash(written.schema)
    files = tuple(sorted(f.name for f in staged.glob("*.parquet")))
    part = Part(run_id, written.count(), dict(info or {}), files)
    if keep:
        _check_append(spark, root, table, key, value, new_hash)
        keep = [link_part(p, visible, staged) for p in keep]
    parts = (*keep, part)
    commit = Commit(value, run_id, sum(p.rows for p in parts), new_hash, time.time_ns(), parts, OPEN)
    _write_marker(spark, staged.as_posix(), key, commit)
    _publish(staged, visible)
    # Markers of the run-directory layout no longer describe this partition.
    shutil.rmtree(local_path(table_path(root, table, COMMITS, f"{key}={value}")), ignore_errors=True)
    return commit


def open_old_partitions(root: str) -> list[str]:
    """Turn every partition a local Parquet warehouse holds in the run-directory layout (segspark before
    2026-11-30) into an open one; return them as `table/key=value`. The committed files are hard-linked into
    a staged version with its marker, published by a write's exchange: no data is copied or read. Run
    directories no commit lists go with the old directory. Parquet only: Delta tables keep their layout."""
    if not is_local(root):
        return []
    opened = []
    for table, key in PARTITION_KEYS.items():
        # Every command calls this: once converted, a directory listing per table is all it costs.
        if not any(local_path(table_path(root, table, COMMITS)).glob("*/run_id=*/marker.json")):
            continue
        for value, commit in sorted(committed(None, root=root, table=table, key=key).items()):
            if commit.layout != RUNS:
                continue
            visible = local_path(table_path(root, table, f"{key}={value}"))
            staged = local_path(staging_path(root, f"open-{os.getpid()}.{table}.{key}={value}"))
            try:
                staged.mkdir(parents=True)
                parts = tuple(link_part(p, visible, staged) for p in commit.parts)
            except FileNotFoundError:  # another process converted it meanwhile
                shutil.rmtree(staged, ignore_errors=True)
                continue
            # One nanosecond newer than the old marker, which outranks it until it is deleted below.
            new = replace(commit, parts=parts, layout=OPEN, committed_ns=commit.committed_ns + 1)
            _write_marker(None, staged.as_posix(), key, new)
            _publish(staged, visible)
            shutil.rmtree(local_path(table_path(root, table, COMMITS, f"{key}={value}")), ignore_errors=True)
            opened.append(f"{table}/{key}={value}")
    return opened


def _check_append(spark: SparkSession, root: str, table: str, key: str, value: str, new_hash: str) -> None:
    """An append keeps the committed parts: refuse one whose schema differs from theirs."""
    previous = committed(spark, root=root, table=table, key=key).get(value)
    if previous is not None and previous.schema_hash != new_hash:
        raise SegsparkError(f"refusing to append to {table} {key}={value}: the schema differs from its parts'")


def _write_runs(
    df: DataFrame,
    *,
    root: str,
    table: str,
    key: str,
    value: str,
    run_id: str,
    keep: Sequence[Part],
    info: Mapping[str, Any] | None,
) -> Commit:
    """Data in its own run directory, then the marker under _commits/ (object stores and Delta)."""
    spark = df.sparkSession
    if _format(spark) == "delta":
        written = _write_delta(df, table_path(root, table), key, value, run_id, [p.run_id for p in keep])
    else:
        data_dir = table_path(root, table, f"{key}={value}", f"run_id={run_id}")
        df.write.mode("overwrite").parquet(data_dir)
        written = spark.read.parquet(data_dir)
    new_hash = schema_hash(written.schema)
    if keep:
        _check_append(spark, root, table, key, value, new_hash)
    part = Part(run_id, written.count(), dict(info or {}))
    parts = (*keep, part)
    commit = Commit(value, run_id, sum(p.rows for p in parts), new_hash, time.time_ns(), parts)
    _write_marker(spark, marker_dir(root, table, key, value, run_id), key, commit)
    _drop_old_versions(root, table, key, value, keep=commit.part_ids())
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


def _drop_old_versions(root: str, table: str, key: str, value: str, keep: Sequence[str]) -> None:
    """Delete data directories no longer listed and every older marker of the partition (local stores)."""
    if not is_local(root):
        return
    data = local_path(table_path(root, table, f"{key}={value}"))
    for old in data.glob("run_id=*"):
        if old.name.removeprefix("run_id=") not in keep:
            shutil.rmtree(old, ignore_errors=True)
    markers = local_path(marker_dir(root, table, key, value, keep[-1])).parent
    for old in markers.glob("run_id=*"):
        if old.name != f"run_id={keep[-1]}":
            shutil.rmtree(old, ignore_errors=True)


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
    frames = [_read_version(spark, root, table, key, commits[v]).withColumn(key, F.lit(v)) for v in wanted]
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


def read_table(spark: SparkSession, root: str, table: str, *values: str) -> DataFrame:
    """The committed rows of a warehouse table, of the partitions `values` (all when none are given), with
    its partition column (`snapshot_date` or `source`)."""
    if table not in PARTITION_KEYS:
        raise SegsparkError(f"no partitioned table {table!r}; the tables are {', '.join(PARTITION_KEYS)}")
    return read_partitions(spark, root=root, table=table, key=PARTITION_KEYS[table], values=list(values) or None)


def _read_version(spark: SparkSession, root: str, table: str, key: str, commit: Commit) -> DataFrame:
    """One committed partition version's rows (without the partition column)."""
    directory = table_path(root, table, f"{key}={commit.partition_value}")
    if commit.layout == OPEN:
        # Exactly the listed files: anything else put in the directory is not part of the commit.
        return spark.read.parquet(*[f"{directory}/{name}" for p in commit.parts for name in p.files])
    return spark.read.parquet(*[f"{directory}/run_id={run}" for run in commit.part_ids()])
