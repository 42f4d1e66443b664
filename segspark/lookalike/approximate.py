"""Approximate k nearest neighbours of every customer: random-projection LSH on unit fingerprints.

On L2-normalised vectors Euclidean order equals cosine order, so hashing unit
vectors with random hyperplanes (one bit per hyperplane: which side the vector
is on) puts customers with a small angle between them in the same bucket with
high probability. `tables` independent hash tables of `bits` hyperplanes each
give every customer several chances to meet its neighbours; within a bucket
the similarities are exact (numpy, in a grouped Arrow pass). A bucket larger
than `max_bucket` is cut into half-overlapping windows along one more random
direction before the grouped pass, so no group handed to Python (and no
similarity matrix) holds more than `max_bucket` customers whatever the data.
Before that, a bucket over `max_bucket` is hashed again about its own mean
(`splitting`), up to `levels` times: about as many neighbours stay together as
with windows, for a third of the similarity work; windows only bound what is left.
Optionally buckets are blocked by archetype (neighbours are then found within
it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from segspark.lookalike.core import unit_rows
from segspark.lookalike.exact import fingerprints
from segspark.lookalike.splitting import split_big_buckets

NEIGHBOURS = T.StructType(
    [
        T.StructField("customer_id", T.StringType(), False),
        T.StructField("rank", T.IntegerType(), False),
        T.StructField("neighbour_id", T.StringType(), False),
        T.StructField("similarity", T.DoubleType(), False),
    ]
)
_HASHED = T.StructType(
    [
        T.StructField("customer_id", T.StringType(), False),
        T.StructField("block", T.StringType(), False),
        T.StructField("table", T.IntegerType(), False),
        T.StructField("unit", T.ArrayType(T.DoubleType(), containsNull=False), False),
        T.StructField("spare", T.DoubleType(), False),
    ]
)
_PAIRS = T.StructType(
    [
        T.StructField("customer_id", T.StringType(), False),
        T.StructField("neighbour_id", T.StringType(), False),
        T.StructField("similarity", T.DoubleType(), False),
    ]
)


@dataclass(frozen=True)
class LshSettings:
    """The `lookalikes.lsh` config section."""

    tables: int = 24
    bits: int = 10
    max_bucket: int = 2000
    levels: int = 3
    seed: int = 17
    by_archetype: bool = False


def hyperplanes(settings: LshSettings, dim: int) -> np.ndarray:
    """tables x bits x dim random normal directions, plus one spare per table for splitting big buckets."""
    rng = np.random.default_rng(settings.seed)
    return rng.standard_normal((settings.tables, settings.bits + 1, dim))


def bucket_ids(unit: np.ndarray, planes: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """n x tables bucket numbers: the sign pattern of the projections about `centre`, as an integer."""
    bits = planes.shape[1] - 1
    weights = 1 << np.arange(bits, dtype=np.int64)
    signs = np.einsum("nd,tbd->ntb", unit - centre, planes[:, :bits, :]) > 0
    return np.asarray((signs * weights).sum(axis=2), dtype=np.int64)


_SUMS = T.StructType(
    [
        T.StructField("n", T.LongType(), False),
        T.StructField("total", T.ArrayType(T.DoubleType(), containsNull=False), False),
    ]
)
_SUMS_ARROW = pa.schema([pa.field("n", pa.int64(), False), pa.field("total", pa.list_(pa.float64()), False)])


def _summer(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """One row per batch: its row count and the sum of its unit fingerprints."""
    for batch in batches:
        if batch.num_rows:
            total = unit_rows(fingerprints(batch)).sum(axis=0)
            yield pa.RecordBatch.from_pylist([{"n": batch.num_rows, "total": total.tolist()}], schema=_SUMS_ARROW)


def mean_unit(profiles: DataFrame, dim: int) -> tuple[np.ndarray, int]:
    """The population's mean unit fingerprint and its size (one small row per Arrow batch reaches the driver)."""
    # Not customer-sized: _summer reduces each Arrow batch to one (count, sum vector) row.
    rows = profiles.select("fingerprint").mapInArrow(_summer, _SUMS).collect()
    n = sum(r["n"] for r in rows)
    if not n:
        return np.zeros(dim), 0
    mean: np.ndarray = np.asarray(np.sum([r["total"] for r in rows], axis=0), dtype=float) / n
    return mean, n


def bits_for(settings: LshSettings, n: int, k: int) -> int:
    """Hyperplanes per table for n customers: at most `settings.bits`, and few enough that the 2**bits buckets
    of a table hold about 4k customers each. Ten bits split a shop of a few hundred customers 1,024 ways,
    leaving most of them alone in their buckets with fewer than k neighbours found."""
    fitting = int(np.floor(np.log2(n / (4 * k)))) if n > 8 * k else 1
    return max(1, min(settings.bits, fitting))


ArrowFn = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


def _hasher(settings: LshSettings, dim: int, centre: np.ndarray) -> ArrowFn:
    planes = hyperplanes(settings, dim)
    schema = pa.schema(
        [
            pa.field("customer_id", pa.string(), False),
            pa.field("block", pa.string(), False),
            pa.field("table", pa.int32(), False),
            pa.field("unit", pa.list_(pa.float64()), False),
            pa.field("spare", pa.float64(), False),
        ]
    )

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            n = batch.num_rows
            if n == 0:
                continue
            unit = unit_rows(fingerprints(batch))
            buckets = bucket_ids(unit, planes, centre)
            prefix = (
                batch.column("archetype_id").to_numpy(zero_copy_only=False).astype(str)
                if settings.by_archetype
                else np.full(n, "", dtype=object)
            )
            ids = batch.column("customer_id")
            flat = pa.array(unit.ravel())
            offsets = pa.array(np.arange(0, n * unit.shape[1] + 1, unit.shape[1], dtype=np.int32))
            vectors = pa.ListArray.from_arrays(offsets, flat)
            for t in range(settings.tables):
                block = np.char.add(np.char.add(prefix.astype(str), f"|{t}|"), buckets[:, t].astype(str))
                # The position along the table's spare direction orders a big bucket for its windows.
                spare = pa.array(unit @ planes[t, -1], pa.float64())
                table = pa.array(np.full(n, t, dtype=np.int32))
                yield pa.RecordBatch.from_arrays(
                    [ids, pa.array(block.tolist(), pa.string()), table, vectors, spare], schema=schema
                )

    return run


def window_starts(n: int, size: int) -> list[int]:
    """Where the half-overlapping windows of `size` over n sorted rows start (one window when n <= size)."""
    if n <= size:
        return [0]
    step = max(1, size // 2)
    return [*range(0, n - size, step), n - size]


def windowed(hashed: DataFrame, size: int) -> DataFrame:
    """Each row once per window of its bucket that holds it, the window named in `block`.

    A bucket of n <= size rows is one window. A bigger one, ordered along the
    spare direction (ties by customer id), is cut into windows of `size` rows
    starting every size // 2 rows, the last one ending at the bucket's end, as
    `window_starts` says: every row is in one or two windows. The windows are
    cut in Spark, so a group handed to the grouped pass is never bigger than
    `size` rows.
    """
    step = max(1, size // 2)
    bucket = Window.partitionBy("block")
    position = F.row_number().over(bucket.orderBy("spare", "customer_id")) - 1
    n = F.count(F.lit(1)).over(bucket)
    last = F.greatest(n - size, F.lit(0))  # start of the last window
    rows = hashed.select("*", position.alias("pos"), n.alias("n"), last.alias("last"))
    j = F.floor(F.col("pos") / step).cast("long")
    # Regular windows start at multiples of step below the last start; a row lies in those starting in
    # (pos - size, pos], and in the last window when pos >= last.
    starts = F.array_distinct(
        F.filter(
            F.array((j - 2) * step, (j - 1) * step, j * step, F.col("last")),
            lambda s: (s >= 0) & (s <= F.col("pos")) & (s > F.col("pos") - size) & (s <= F.col("last")),
        )
    )
    single = F.col("n") <= size
    start = F.explode(F.when(single, F.array(F.lit(0).cast("long"))).otherwise(starts)).alias("start")
    return rows.select("customer_id", "block", "unit", "spare", start).select(
        "customer_id", F.concat_ws("#", "block", F.col("start").cast("string")).alias("block"), "unit", "spare"
    )


def _group_neighbours(k: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def run(group: pd.DataFrame) -> pd.DataFrame:
        # One window of at most max_bucket customers (see `windowed`): exact similarities within it.
        ids = group["customer_id"].to_numpy(dtype=object)
        take = min(k, len(ids) - 1)
        if take <= 0:
            # Typed empty columns: untyped ones fail Spark's Arrow conversion.
            none = np.array([], dtype=object)
            return pd.DataFrame({"customer_id": none, "neighbour_id": none, "similarity": np.array([], dtype=float)})
        unit = np.vstack(group["unit"].to_numpy())
        sim = unit @ unit.T
        np.fill_diagonal(sim, -np.inf)
        best = np.argpartition(-sim, take - 1, axis=1)[:, :take]
        rows = np.repeat(np.arange(len(ids)), take)
        cols = best.ravel()
        return pd.DataFrame({"customer_id": ids[rows], "neighbour_id": ids[cols], "similarity": sim[rows, cols]})

    return run


def approximate_neighbours(
    profiles: DataFrame, k: int, settings: LshSettings, dim: int, held: list[DataFrame] | None = None
) -> DataFrame:
    """customer_id, rank, neighbour_id, similarity: every customer's approximate k nearest others (cosine).

    Small intermediate aggregates are cached on the way and appended to `held` (if given), for the
    caller to unpersist once the result is written."""
    cols = ["customer_id", "fingerprint", *(["archetype_id"] if settings.by_archetype else [])]
    centre, n = mean_unit(profiles, dim)
    settings = replace(settings, bits=bits_for(settings, n, k))
    hashed = profiles.select(*cols).mapInArrow(_hasher(settings, dim, centre), _HASHED)
    split = split_big_buckets(
        hashed,
        max_bucket=settings.max_bucket,
        levels=settings.levels,
        seed=settings.seed,
        dim=dim,
        held=[] if held is None else held,
    )
    pairs = windowed(split, settings.max_bucket).groupBy("block").applyInPandas(_group_neighbours(k), _PAIRS)
    # The same pair can come from several tables or windows: keep it once, then the global top k.
    order = Window.partitionBy("customer_id").orderBy(F.desc("similarity"), F.asc("neighbour_id"))
    return (
        pairs.groupBy("customer_id", "neighbour_id")
        .agg(F.max("similarity").alias("similarity"))
        .withColumn("rank", F.row_number().over(order))
        .filter(F.col("rank") <= k)
        .select(*NEIGHBOURS.fieldNames())
    )
