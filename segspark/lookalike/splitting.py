"""Splitting LSH buckets that are too big, about their own mean.

A clustered population (a few archetypes holding most customers) fills some
buckets of the first hash far beyond `max_bucket`: the first hyperplanes pass
through the population's mean, and a tight cluster away from it sits on the
same side of most of them. Such a bucket is hashed again with fresh random
hyperplanes through *its own* mean, with just enough of them that the pieces
hold about `max_bucket` customers (`split_bits`), and again for pieces still too
big, up to `levels` times. Each split adapts to where the customers are, so it
cuts a dense cluster where the first hash could not; what is still too big after
the last level is cut into windows (`approximate.windowed`).

Measured against the windows alone (`bench/lsh_simulate.py`, docs/benchmarks.md):
at 1M clustered customers windows recover recall@10 0.75 at 12 tables, splits
0.76 with a third of the similarity work, so the default spends the saving on
twice the tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema

ArrowFn = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]

# Most hyperplanes one split uses: 2**20 pieces of max_bucket customers is far beyond any shop.
MAX_SPLIT_BITS = 20


def split_bits(size: int | np.ndarray, max_bucket: int) -> np.ndarray:
    """Hyperplanes that cut a bucket of `size` customers into pieces of about `max_bucket` (0 if it fits)."""
    size = np.asarray(size, dtype=float)
    bits = np.ceil(np.log2(np.maximum(size, 1.0) / max_bucket))
    return np.asarray(np.clip(bits, 0, MAX_SPLIT_BITS), dtype=np.int64)


def split_planes(seed: int, table: int, level: int, dim: int) -> np.ndarray:
    """MAX_SPLIT_BITS x dim random directions of one table's split at one level (the same on every executor)."""
    return np.random.default_rng([seed, table, level]).standard_normal((MAX_SPLIT_BITS, dim))


def split_ids(unit: np.ndarray, centre: np.ndarray, bits: np.ndarray, planes: np.ndarray) -> np.ndarray:
    """Per row, the piece of its bucket: the sign pattern of its first `bits` projections about the bucket's
    `centre` (n x dim, each row its own bucket's mean), as an integer."""
    signs = np.einsum("nd,bd->nb", unit - centre, planes) > 0
    used = np.arange(planes.shape[0])[None, :] < np.asarray(bits)[:, None]
    weights = 1 << np.arange(planes.shape[0], dtype=np.int64)
    return np.asarray(((signs & used) * weights).sum(axis=1), dtype=np.int64)


_CENTRE = "centre"


def _splitter(seed: int, level: int, dim: int, schema: pa.Schema) -> ArrowFn:
    planes: dict[int, np.ndarray] = {}

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            block = batch.column("block")
            bits = batch.column("split").fill_null(0).to_numpy()
            big = np.flatnonzero(bits > 0)
            if big.size:
                take = pa.array(big)
                tables = batch.column("table").to_numpy()[big]
                unit = batch.column("unit").take(take).flatten().to_numpy().reshape(-1, dim)
                centre = batch.column(_CENTRE).take(take).flatten().to_numpy().reshape(-1, dim)
                piece = np.zeros(big.size, dtype=np.int64)
                for t in np.unique(tables):
                    if t not in planes:
                        planes[t] = split_planes(seed, int(t), level, dim)
                    rows = tables == t
                    piece[rows] = split_ids(unit[rows], centre[rows], bits[big][rows], planes[t])
                pieces = np.full(batch.num_rows, -1, dtype=np.int64)
                pieces[big] = piece
                named = pc.binary_join_element_wise(block, pc.cast(pa.array(pieces), pa.string()), "/")
                block = pc.if_else(pa.array(bits > 0), named, block)
            columns = [block if name == "block" else batch.column(name) for name in schema.names]
            yield pa.RecordBatch.from_arrays(columns, schema=schema)

    return run


def split_big_buckets(
    hashed: DataFrame, *, max_bucket: int, levels: int, seed: int, dim: int, held: list[DataFrame]
) -> DataFrame:
    """`hashed` (customer_id, block, table, unit, ...) with every bucket over `max_bucket` split about its mean,
    up to `levels` times: same rows, finer `block` names.

    Per level one aggregate finds the big buckets, their sizes and means (a count and `dim` sums per bucket;
    at most tables x customers / max_bucket rows, broadcast to the tasks), and one Arrow pass rehashes their
    customers. Nothing customer-sized leaves Spark; only whether any bucket is too big reaches the driver.
    The per-level aggregates are cached (small) and appended to `held`, for the caller to unpersist once
    the result is written.
    """
    spark_schema = hashed.schema
    arrow_schema = to_arrow_schema(spark_schema)
    current = hashed
    for level in range(1, levels + 1):
        sums = [F.sum(F.col("unit")[i]).alias(f"s{i}") for i in range(dim)]
        big = (
            current.groupBy("block")
            .agg(F.count(F.lit(1)).alias("n"), *sums)
            .filter(F.col("n") > max_bucket)
            .select(
                "block",
                # split_bits in SQL: ceil(log2(n / max_bucket)), at most MAX_SPLIT_BITS.
                F.least(F.ceil(F.log2(F.col("n") / F.lit(float(max_bucket)))), F.lit(MAX_SPLIT_BITS))
                .cast("int")
                .alias("split"),
                F.array(*[F.col(f"s{i}") / F.col("n") for i in range(dim)]).alias(_CENTRE),
            )
            .cache()
        )
        held.append(big)
        if big.isEmpty():
            break
        joined = current.join(F.broadcast(big), "block", "left")
        current = joined.mapInArrow(_splitter(seed, level, dim, arrow_schema), spark_schema)
    return current
