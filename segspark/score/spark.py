"""The Spark shell around the numpy scoring core: one `mapInArrow` pass for all axes.

The numpy core runs on whole Arrow batches (no per-row Python), and the
`customer_profiles` columns, maps included, are assembled as Arrow arrays from
its output with vectorised offsets and `take`s. The model travels once per task
inside the function's closure; nothing customer-sized reaches the driver or the
closure: whether an archetype was observed at fit time is a join with the
model's archetype registry (a table of its own), not a set shipped to tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segspark.model.identity import archetype_id
from segspark.score.core import STRENGTHS, Scores, ScoringModel, archetypes, score

PROFILE_SCHEMA = T.StructType(
    [
        T.StructField("customer_id", T.StringType(), False),
        T.StructField("model_version", T.StringType(), False),
        T.StructField("archetype_id", T.StringType(), False),
        T.StructField("archetype_key", T.StringType(), False),
        T.StructField("archetype_is_new", T.BooleanType(), False),
        T.StructField("segment_memberships", T.MapType(T.StringType(), T.MapType(T.StringType(), T.DoubleType()))),
        T.StructField("segment_distances", T.MapType(T.StringType(), T.MapType(T.StringType(), T.DoubleType()))),
        T.StructField("dominant_segments", T.MapType(T.StringType(), T.StringType())),
        T.StructField("membership_strengths", T.MapType(T.StringType(), T.StringType())),
        T.StructField("segment_tiers", T.MapType(T.StringType(), T.IntegerType())),
        T.StructField("fingerprint", T.ArrayType(T.DoubleType(), containsNull=False)),
    ]
)
PROFILE_COLUMNS = tuple(PROFILE_SCHEMA.fieldNames())
# What the scoring pass itself returns: the profile without archetype_is_new, which the registry join adds.
_SCORED_SCHEMA = T.StructType([f for f in PROFILE_SCHEMA.fields if f.name != "archetype_is_new"])

_NESTED = pa.map_(pa.string(), pa.map_(pa.string(), pa.float64()))
ARROW_SCHEMA = pa.schema(
    [
        pa.field("customer_id", pa.string(), False),
        pa.field("model_version", pa.string(), False),
        pa.field("archetype_id", pa.string(), False),
        pa.field("archetype_key", pa.string(), False),
        pa.field("segment_memberships", _NESTED),
        pa.field("segment_distances", _NESTED),
        pa.field("dominant_segments", pa.map_(pa.string(), pa.string())),
        pa.field("membership_strengths", pa.map_(pa.string(), pa.string())),
        pa.field("segment_tiers", pa.map_(pa.string(), pa.int32())),
        pa.field("fingerprint", pa.list_(pa.float64())),
    ]
)


def _offsets(n: int, width: int) -> pa.Array:
    return pa.array(np.arange(0, n * width + 1, width, dtype=np.int32))


class _Layout:
    """The per-row key arrays of the maps, built once and sliced for each batch."""

    def __init__(self, model: ScoringModel) -> None:
        self.axis_names = list(model.axes)
        self.ks = np.array([ax.k for ax in model.axes.values()], dtype=np.int64)
        self.first = np.concatenate([[0], np.cumsum(self.ks)[:-1]])  # fingerprint position of each axis's segment 0
        self.segment_ids = pa.array([sid for _, sid in model.fingerprint_layout], pa.string())
        self.tiers = np.array([t for ax in model.axes.values() for t in ax.tiers], dtype=np.int32)
        self.strengths = pa.array(STRENGTHS, pa.string())
        self._rows = 0
        self._axis_keys = pa.array([], pa.string())
        self._segment_keys = pa.array([], pa.string())

    def keys(self, n: int) -> tuple[pa.Array, pa.Array]:
        """Axis names repeated for n rows, and (axis's segment ids) repeated for n rows."""
        if n > self._rows:
            self._rows = max(n, 2 * self._rows)
            self._axis_keys = pa.array(np.tile(np.array(self.axis_names, dtype=object), self._rows), pa.string())
            self._segment_keys = pc.take(self.segment_ids, np.tile(np.arange(len(self.segment_ids)), self._rows))
        return self._axis_keys.slice(0, n * len(self.axis_names)), self._segment_keys.slice(0, n * len(self.tiers))


def _nested(layout: _Layout, n: int, values: np.ndarray) -> pa.Array:
    """axis -> segment id -> value, from an n x (sum of k) matrix in fingerprint order."""
    axis_keys, segment_keys = layout.keys(n)
    inner_offsets = np.concatenate([[0], np.cumsum(np.tile(layout.ks, n))]).astype(np.int32)
    inner = pa.MapArray.from_arrays(pa.array(inner_offsets), segment_keys, pa.array(values.ravel(), pa.float64()))
    return pa.MapArray.from_arrays(_offsets(n, len(layout.axis_names)), axis_keys, inner)


def _flat(layout: _Layout, n: int, values: pa.Array) -> pa.Array:
    """axis -> value, from n x axes values in row-major order."""
    axis_keys, _ = layout.keys(n)
    return pa.MapArray.from_arrays(_offsets(n, len(layout.axis_names)), axis_keys, values)


class _Archetypes:
    """Per-row archetype columns as Arrow arrays.

    A task meets the same combinations batch after batch, so each one's key and
    id are worked out once per task and reused (kept per task: the object
    travels in the closure, empty).
    """

    def __init__(self, model: ScoringModel) -> None:
        self.model = model
        self._keys: dict[int, str] = {}
        self._ids: dict[str, str] = {}

    def _distinct(self, s: Scores) -> tuple[list[str], pa.Array]:
        keys, inverse = archetypes(self.model, s, self._keys)
        return keys, pa.array(inverse)

    def _id_array(self, keys: list[str]) -> pa.Array:
        ids = [self._ids.get(k) or self._ids.setdefault(k, archetype_id(k)) for k in keys]
        return pa.array(ids, pa.string())

    def ids(self, s: Scores) -> pa.Array:
        """archetype_id of every row."""
        keys, inverse = self._distinct(s)
        return pc.take(self._id_array(keys), inverse)

    def columns(self, s: Scores) -> tuple[pa.Array, pa.Array]:
        """archetype_id and archetype_key of every row."""
        keys, inverse = self._distinct(s)
        return pc.take(self._id_array(keys), inverse), pc.take(pa.array(keys, pa.string()), inverse)


def _raw(batch: pa.RecordBatch, columns: list[str]) -> np.ndarray:
    """The batch's feature columns as an n x d float matrix; nulls (missing features) become NaN, imputed later."""
    return np.column_stack([batch.column(c).to_numpy(zero_copy_only=False) for c in columns]).astype(float, copy=False)


def _scorer(model: ScoringModel) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    columns = model.columns
    layout = _Layout(model)
    named = _Archetypes(model)
    version = pa.scalar(model.model_version, pa.string())

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            n = batch.num_rows
            if n == 0:
                continue
            s = score(model, _raw(batch, columns))
            dominant = np.column_stack([a.dominant for a in s.axes.values()])  # n x axes
            strength = np.column_stack([a.strength for a in s.axes.values()])
            picked = (dominant + layout.first[None, :]).ravel()  # fingerprint position of each dominant segment
            yield pa.RecordBatch.from_arrays(
                [
                    batch.column("customer_id"),
                    pa.repeat(version, n),
                    *named.columns(s),
                    _nested(layout, n, np.hstack([a.memberships for a in s.axes.values()])),
                    _nested(layout, n, s.fingerprint),
                    _flat(layout, n, pc.take(layout.segment_ids, picked)),
                    _flat(layout, n, pc.take(layout.strengths, strength.ravel())),
                    _flat(layout, n, pa.array(layout.tiers[picked], pa.int32())),
                    pa.ListArray.from_arrays(_offsets(n, len(layout.tiers)), pa.array(s.fingerprint.ravel())),
                ],
                schema=ARROW_SCHEMA,
            )

    return run


VECTORS_SCHEMA = T.StructType(
    [
        T.StructField("customer_id", T.StringType(), False),
        T.StructField("archetype_id", T.StringType(), False),
        T.StructField("memberships", T.ArrayType(T.DoubleType(), containsNull=False)),
        T.StructField("fingerprint", T.ArrayType(T.DoubleType(), containsNull=False)),
    ]
)
_VECTORS_ARROW = pa.schema(
    [
        pa.field("customer_id", pa.string(), False),
        pa.field("archetype_id", pa.string(), False),
        pa.field("memberships", pa.list_(pa.float64())),
        pa.field("fingerprint", pa.list_(pa.float64())),
    ]
)


def _vector_scorer(model: ScoringModel) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    columns = model.columns
    width = len(model.fingerprint_layout)
    named = _Archetypes(model)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            n = batch.num_rows
            if n == 0:
                continue
            s = score(model, _raw(batch, columns))
            members = np.hstack([a.memberships for a in s.axes.values()])
            yield pa.RecordBatch.from_arrays(
                [
                    batch.column("customer_id"),
                    named.ids(s),
                    pa.ListArray.from_arrays(_offsets(n, width), pa.array(members.ravel())),
                    pa.ListArray.from_arrays(_offsets(n, width), pa.array(s.fingerprint.ravel())),
                ],
                schema=_VECTORS_ARROW,
            )

    return run


def score_vectors(features: DataFrame, model: ScoringModel) -> DataFrame:
    """The scoring pass with numeric output only (VECTORS_SCHEMA).

    Memberships and fingerprint are flat arrays in `model.fingerprint_layout`
    order. For lookalikes and bulk exports, where the per-customer maps of
    `score_profiles` are not needed and cost more to materialise than the scoring.
    """
    inputs = features.select(F.col("customer_id").cast("string"), *[F.col(c).cast("double") for c in model.columns])
    return inputs.mapInArrow(_vector_scorer(model), VECTORS_SCHEMA)


def score_profiles(features: DataFrame, model: ScoringModel, registry: DataFrame) -> DataFrame:
    """Features (customer_id + the model's raw columns) -> one profile row per customer (PROFILE_SCHEMA).

    `registry` holds the archetype keys observed at fit time (column `archetype_key`); a row whose
    combination is not among them is flagged `archetype_is_new`.
    """
    inputs = features.select(F.col("customer_id").cast("string"), *[F.col(c).cast("double") for c in model.columns])
    scored = inputs.mapInArrow(_scorer(model), _SCORED_SCHEMA)
    known = registry.select("archetype_key", F.lit(False).alias("archetype_is_new")).distinct()
    # Left join on the key: Spark broadcasts the registry when it is small and shuffles both sides when it
    # is not, so its size never lands on the driver or in a task's closure.
    joined = scored.join(known, "archetype_key", "left")
    return joined.select(
        *[F.coalesce(F.col(c), F.lit(True)).alias(c) if c == "archetype_is_new" else F.col(c) for c in PROFILE_COLUMNS]
    )
