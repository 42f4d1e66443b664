"""Exact lookalikes: one scan of the population with the seed fingerprints broadcast.

Each Arrow batch of the population is scored against every seed with one
matrix product (cosine similarity of L2-normalised fingerprints) and only each
seed's k best of the batch leave it; a window over those few candidates per seed
then gives the global top k. No self join, nothing customer-sized on the driver
(only the seeds' own fingerprints are collected).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from segspark.exc import SegsparkError
from segspark.lookalike.core import top_k, unit_rows

LOOKALIKES = T.StructType(
    [
        T.StructField("seed_id", T.StringType(), False),
        T.StructField("rank", T.IntegerType(), False),
        T.StructField("customer_id", T.StringType(), False),
        T.StructField("similarity", T.DoubleType(), False),
    ]
)
_CANDIDATES = T.StructType([f for f in LOOKALIKES.fields if f.name != "rank"])
_CANDIDATES_ARROW = pa.schema(
    [
        pa.field("seed_id", pa.string(), False),
        pa.field("customer_id", pa.string(), False),
        pa.field("similarity", pa.float64(), False),
    ]
)


@dataclass(frozen=True)
class Seeds:
    """The seeds found in the snapshot (ids and unit fingerprints) and the ids that were not."""

    ids: list[str]
    unit: np.ndarray
    missing: list[str]


def load_seeds(profiles: DataFrame, seed_ids: Sequence[str]) -> Seeds:
    """Collect the seeds' fingerprints (seed-sized); report the ids the snapshot does not have."""
    wanted = list(dict.fromkeys(str(s).strip() for s in seed_ids if str(s).strip()))
    if not wanted:
        raise SegsparkError("the seed list is empty: give at least one customer id (one per line)")
    # Seed-sized, not customer-sized: only the listed seeds' fingerprints reach the driver.
    rows = profiles.filter(F.col("customer_id").isin(wanted)).select("customer_id", "fingerprint").collect()
    found = {r["customer_id"]: r["fingerprint"] for r in rows}
    ids = [s for s in wanted if s in found]
    missing = [s for s in wanted if s not in found]
    if not ids:
        raise SegsparkError(f"none of the {len(wanted)} seed id(s) has a profile on this snapshot: {missing[:10]}")
    return Seeds(ids, unit_rows(np.array([found[s] for s in ids], dtype=float)), missing)


def fingerprints(batch: pa.RecordBatch) -> np.ndarray:
    """The fingerprint column of a batch as an n x d matrix (every row has the model's width)."""
    column = batch.column("fingerprint")
    values = column.flatten().to_numpy(zero_copy_only=False).astype(float)
    n = batch.num_rows
    if n and values.size % n:
        raise SegsparkError("fingerprints of different lengths in one snapshot: was it scored by one model?")
    return np.asarray(values.reshape(n, values.size // n if n else 0), dtype=float)


def _scanner(seeds: Seeds, k: int) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    seed_ids = np.array(seeds.ids, dtype=object)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            ids = np.asarray(batch.column("customer_id").to_numpy(zero_copy_only=False), dtype=object)
            sim = unit_rows(fingerprints(batch)) @ seeds.unit.T
            best = top_k(sim, ids, k, exclude=ids[:, None] == seed_ids[None, :])
            rows = np.concatenate(best) if best else np.array([], dtype=int)
            cols = np.repeat(np.arange(len(best)), [len(b) for b in best])
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array(seed_ids[cols].tolist(), pa.string()),
                    pa.array(ids[rows].tolist(), pa.string()),
                    pa.array(sim[rows, cols], pa.float64()),
                ],
                schema=_CANDIDATES_ARROW,
            )

    return run


def exact_lookalikes(profiles: DataFrame, seeds: Seeds, k: int) -> DataFrame:
    """seed_id, rank (1 = most similar), customer_id, similarity: each seed's k most similar other customers."""
    if k < 1:
        raise SegsparkError(f"--k must be at least 1, got {k}")
    candidates = profiles.select("customer_id", "fingerprint").mapInArrow(_scanner(seeds, k), _CANDIDATES)
    order = Window.partitionBy("seed_id").orderBy(F.desc("similarity"), F.asc("customer_id"))
    ranked = candidates.withColumn("rank", F.row_number().over(order))
    return ranked.filter(F.col("rank") <= k).select(*LOOKALIKES.fieldNames())


def audience(lookalikes: DataFrame, seeds: Seeds, size: int) -> DataFrame:
    """The union of the seeds' neighbourhoods, ranked, at most `size` rows.

    Seeds are left out; each customer appears once, at its best similarity, with
    the seed it is most similar to as seed_id.
    """
    best = Window.partitionBy("customer_id").orderBy(F.desc("similarity"), F.asc("seed_id"))
    ranked = Window.orderBy(F.desc("similarity"), F.asc("customer_id"))  # the union is small: seeds x k rows
    return (
        lookalikes.filter(~F.col("customer_id").isin(seeds.ids))
        .withColumn("n", F.row_number().over(best))
        .filter(F.col("n") == 1)
        .withColumn("rank", F.row_number().over(ranked))
        .filter(F.col("rank") <= size)
        .select(*LOOKALIKES.fieldNames())
    )
