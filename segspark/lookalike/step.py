"""The lookalikes step: a profile snapshot + seed ids -> lookalikes/snapshot_date=D/ (and an optional CSV)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segspark.exc import MissingInputError, SegsparkError
from segspark.lookalike.approximate import LshSettings, approximate_neighbours
from segspark.lookalike.exact import audience, exact_lookalikes, load_seeds
from segspark.score.step import PROFILES, snapshot_of
from segspark.tables import Commit, read_partitions, write_partition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LookalikeResult:
    """What the step wrote."""

    snapshot: str
    seeds: list[str]
    missing: list[str]
    commit: Commit
    csv: str | None


def read_seed_file(path: str) -> list[str]:
    """Customer ids, one per line (a CSV's first column; a `customer_id` header line and blanks are skipped)."""
    file = Path(path)
    if not file.is_file():
        raise SegsparkError(f"seed file {path} does not exist")
    ids = []
    for line in file.read_text().splitlines():
        value = line.split(",")[0].strip().strip('"')
        if value and value.lower() not in ("customer_id", "id"):
            ids.append(value)
    return ids


def run_lookalikes(
    spark: SparkSession,
    *,
    root: str,
    as_of: date | None,
    seed_ids: list[str],
    k: int,
    audience_size: int | None,
    csv: str | None,
    run_id: str,
) -> LookalikeResult:
    """Exact lookalikes of the seeds (or their merged audience) on one snapshot, committed; optionally a CSV."""
    day = snapshot_of(spark, root, as_of)
    profiles = read_partitions(spark, root=root, table=PROFILES, key="snapshot_date", values=[day])
    seeds = load_seeds(profiles, seed_ids)
    for missing in seeds.missing:
        log.warning("seed %s has no profile on snapshot %s: skipped", missing, day)
    result: DataFrame = exact_lookalikes(profiles, seeds, k)
    if audience_size is not None:
        result = audience(result, seeds, audience_size)
    commit = write_partition(result, root=root, table="lookalikes", key="snapshot_date", value=day, run_id=run_id)
    if csv:
        if Path(csv).exists():
            raise SegsparkError(f"{csv} exists; choose a new path for the CSV")
        written = read_partitions(spark, root=root, table="lookalikes", key="snapshot_date", values=[day])
        # Small by construction (seeds x k, or the audience size): one file for an ad platform.
        written.drop("snapshot_date").orderBy("seed_id", "rank").coalesce(1).write.option("header", True).csv(csv)
    return LookalikeResult(day, seeds.ids, seeds.missing, commit, csv)


def run_all_neighbours(
    spark: SparkSession, *, root: str, as_of: date | None, k: int, lsh: LshSettings, run_id: str
) -> LookalikeResult:
    """Every customer's approximate k nearest neighbours (seed_id = the customer), committed."""
    day = snapshot_of(spark, root, as_of)
    profiles = read_partitions(spark, root=root, table=PROFILES, key="snapshot_date", values=[day])
    first = profiles.select(F.size("fingerprint").alias("d")).first()
    if first is None:
        raise MissingInputError(f"profile snapshot {day} is empty")
    held: list[DataFrame] = []
    result = approximate_neighbours(profiles, k, lsh, int(first["d"]), held).select(
        F.col("customer_id").alias("seed_id"), "rank", F.col("neighbour_id").alias("customer_id"), "similarity"
    )
    try:
        commit = write_partition(result, root=root, table="lookalikes", key="snapshot_date", value=day, run_id=run_id)
    finally:
        for frame in held:
            frame.unpersist()
    return LookalikeResult(day, [], [], commit, None)


def preview(spark: SparkSession, root: str, day: str, rows: int = 5) -> list[tuple[str, int, str, float]]:
    """The first rows of the committed result, for printing (`limit` keeps the collect to `rows` rows)."""
    df = read_partitions(spark, root=root, table="lookalikes", key="snapshot_date", values=[day])
    return [
        (r.seed_id, r.rank, r.customer_id, r.similarity) for r in df.orderBy("seed_id", "rank").limit(rows).collect()
    ]
