"""The Spark shell around the numpy scoring core: one `mapInArrow` pass for all axes.

The numpy core runs on whole Arrow batches (no per-row Python). Its output is
flat (per axis: distances, memberships, dominant index, strength code) and is
turned into the `customer_profiles` maps with plain Spark expressions, so the
model travels once per task inside the function's closure and nothing
customer-sized reaches the driver.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segspark.score.core import STRENGTHS, ScoringModel, score

DOUBLES = T.ArrayType(T.DoubleType(), containsNull=False)

PROFILE_COLUMNS = (
    "customer_id", "model_version", "archetype_id", "archetype_key", "archetype_is_new",
    "segment_memberships", "segment_distances", "dominant_segments", "membership_strengths",
    "segment_tiers", "fingerprint",
)  # fmt: skip


def _flat_schemas(model: ScoringModel) -> tuple[T.StructType, pa.Schema]:
    """The schema of the core's flat output, for Spark and for Arrow."""
    kinds = [("customer_id", "id"), ("fingerprint", "list")]
    for i in range(len(model.axes)):
        kinds += [(f"_d{i}", "list"), (f"_m{i}", "list"), (f"_dom{i}", "int"), (f"_str{i}", "int")]
    spark_types = {"id": T.StringType(), "list": DOUBLES, "int": T.IntegerType()}
    arrow_types = {"id": pa.string(), "list": pa.list_(pa.float64()), "int": pa.int32()}
    return (
        T.StructType([T.StructField(name, spark_types[kind], False) for name, kind in kinds]),
        pa.schema([pa.field(name, arrow_types[kind], False) for name, kind in kinds]),
    )


def _list_array(matrix: np.ndarray) -> pa.Array:
    """An n x k matrix as an Arrow list<double> column without a Python loop."""
    n, k = matrix.shape
    offsets = pa.array(np.arange(0, n * k + 1, k, dtype=np.int32) if k else np.zeros(n + 1, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(np.ascontiguousarray(matrix).ravel(), type=pa.float64()))


def _scorer(model: ScoringModel, schema: pa.Schema) -> object:
    columns = model.columns

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            # Nulls (missing features) arrive as NaN; the core imputes them as fitted.
            raw = np.column_stack(
                [batch.column(c).to_numpy(zero_copy_only=False).astype(float, copy=False) for c in columns]
            )
            scores = score(model, raw)
            arrays: list[pa.Array] = [batch.column("customer_id"), _list_array(scores.fingerprint)]
            for axis in scores.axes.values():
                arrays += [
                    _list_array(axis.distances),
                    _list_array(axis.memberships),
                    pa.array(axis.dominant.astype(np.int32)),
                    pa.array(axis.strength.astype(np.int32)),
                ]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    return run


def _pick(values: list[object], index: Column) -> Column:
    """values[index] for a 0-based index column."""
    return F.element_at(F.array(*[F.lit(v) for v in values]), index + 1)


def _axis_map(model: ScoringModel, value: list[Column]) -> Column:
    return F.create_map(*[part for name, v in zip(model.axes, value, strict=True) for part in (F.lit(name), v)])


def score_profiles(features: DataFrame, model: ScoringModel) -> DataFrame:
    """Features (customer_id + the model's raw columns) -> one profile row per customer (PROFILE_COLUMNS)."""
    flat_schema, arrow_schema = _flat_schemas(model)
    inputs = features.select(F.col("customer_id").cast("string"), *[F.col(c).cast("double") for c in model.columns])
    flat = inputs.mapInArrow(_scorer(model, arrow_schema), flat_schema)  # type: ignore[arg-type]

    ids = [list(ax.segment_ids) for ax in model.axes.values()]
    tiers = [list(ax.tiers) for ax in model.axes.values()]
    n = range(len(model.axes))
    dominant = [_pick(list(ids[i]), F.col(f"_dom{i}")) for i in n]
    names = list(model.axes)
    key_parts = [dominant[names.index(a)] for a in model.archetype_axes]
    key = F.concat_ws("|", *key_parts) if key_parts else F.lit("")
    registry = sorted(model.registry)
    is_new = ~key.isin(registry) if registry else F.lit(True)
    return flat.select(
        "customer_id",
        F.lit(model.model_version).alias("model_version"),
        # Same arithmetic as identity.archetype_id: "A" + the first 10 hex digits of SHA-256(key).
        F.concat(F.lit("A"), F.substring(F.sha2(key, 256), 1, 10)).alias("archetype_id"),
        key.alias("archetype_key"),
        is_new.alias("archetype_is_new"),
        _axis_map(model, [F.map_from_arrays(F.array(*map(F.lit, ids[i])), F.col(f"_m{i}")) for i in n]).alias(
            "segment_memberships"
        ),
        _axis_map(model, [F.map_from_arrays(F.array(*map(F.lit, ids[i])), F.col(f"_d{i}")) for i in n]).alias(
            "segment_distances"
        ),
        _axis_map(model, dominant).alias("dominant_segments"),
        _axis_map(model, [_pick(list(STRENGTHS), F.col(f"_str{i}")) for i in n]).alias("membership_strengths"),
        _axis_map(model, [_pick(list(tiers[i]), F.col(f"_dom{i}")) for i in n]).alias("segment_tiers"),
        "fingerprint",
    )
