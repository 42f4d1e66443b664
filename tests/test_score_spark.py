"""The Spark scoring pass against the numpy core, row for row; profiles written and read back."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import date
from typing import Any

import numpy as np
import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segspark.exc import SegsparkError
from segspark.model.archetypes import archetype_id_column
from segspark.score.core import ScoringModel, archetype_keys, level3_document, profile_record, score
from segspark.score.spark import PROFILE_COLUMNS, score_profiles
from segspark.tables import read_partitions, write_partition
from tests.hand_model import hand_manifest

COLUMNS = ["freq__a", "freq__b", "value__v"]
ROWS: list[tuple[str, float | None, float | None, float | None]] = [
    ("C1", 3.0, 4.0, math.e**3 - 1),
    ("C2", 0.0, 10.0, 0.0),
    ("C3", None, None, None),  # everything imputed
    ("C4", 1e6, -1e6, 1e12),  # far from every centre
    ("C5", 1.5, 2.0, 2.0),  # between centres
    ("C6", 0.1, None, 7.5),
]


def known(spark: SparkSession, keys: list[str] | None = None) -> DataFrame:
    """The registry of archetype keys observed at fit time: the hand model's, or `keys`."""
    observed = keys if keys is not None else OBSERVED
    return spark.createDataFrame([(k,) for k in observed], "archetype_key string")


OBSERVED = [a["key"] for a in hand_manifest().archetypes]


def features(spark: SparkSession, rows: list[Any] | None = None) -> DataFrame:
    schema = T.StructType(
        [T.StructField("customer_id", T.StringType(), False)]
        + [T.StructField(c, T.DoubleType(), True) for c in COLUMNS]
    )
    # Four partitions so several Arrow batches and tasks are exercised.
    return spark.createDataFrame(rows or ROWS, schema).repartition(4)


def core_frame(
    spark: SparkSession, model: ScoringModel, schema: T.StructType, rows: list[Any] | None = None
) -> DataFrame:
    rows = rows or ROWS
    raw = np.array([[np.nan if v is None else v for v in r[1:]] for r in rows], dtype=float)
    s = score(model, raw)
    keys = archetype_keys(model, s)
    records = [{"customer_id": r[0], **profile_record(model, s, i, keys, OBSERVED)} for i, r in enumerate(rows)]
    return spark.createDataFrame([tuple(rec[c] for c in PROFILE_COLUMNS) for rec in records], schema)


def test_spark_pass_equals_numpy_core(spark: SparkSession) -> None:
    model = ScoringModel.from_manifest(hand_manifest())
    got = score_profiles(features(spark), model, known(spark))
    assert tuple(got.columns) == PROFILE_COLUMNS
    expected = core_frame(spark, model, got.schema)
    # Maps cannot be sorted by Spark, so both sides are ordered by customer id.
    assert_df_equality(got.orderBy("customer_id"), expected.orderBy("customer_id"), ignore_nullable=True)


def test_spark_pass_one_row_per_batch(spark: SparkSession) -> None:
    """One task and one row per Arrow batch, every combination met twice: what a task keeps
    from batch to batch (the archetype names it has already worked out) must stay row-exact."""
    model = ScoringModel.from_manifest(hand_manifest())
    rows = [*ROWS, *[(f"{r[0]}-again", *r[1:]) for r in reversed(ROWS)]]
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "1")
    try:
        got = score_profiles(features(spark, rows).coalesce(1), model, known(spark)).orderBy("customer_id")
        expected = core_frame(spark, model, got.schema, rows).orderBy("customer_id")
        assert_df_equality(got, expected, ignore_nullable=True)
    finally:
        spark.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")


def test_spark_pass_by_hand(spark: SparkSession) -> None:
    model = ScoringModel.from_manifest(hand_manifest())
    rows = {r.customer_id: r for r in score_profiles(features(spark), model, known(spark)).collect()}
    c1 = rows["C1"]
    assert c1.dominant_segments == {"freq": "freq_s1", "value": "value_s1"}
    assert c1.segment_distances["freq"]["freq_s1"] == pytest.approx(0.0, abs=1e-12)
    assert c1.segment_distances["value"]["value_s0"] == pytest.approx(2.0, abs=1e-12)
    assert c1.archetype_key == "freq_s1|value_s1" and not c1.archetype_is_new
    # C3 is imputed to freq (1, 2) and value 0 -> scaled -0.5: nearest freq_s0 and value_s0.
    assert rows["C3"].dominant_segments == {"freq": "freq_s0", "value": "value_s0"}
    assert rows["C3"].archetype_is_new is False
    for r in rows.values():
        for axis in ("freq", "value"):
            assert sum(r.segment_memberships[axis].values()) == pytest.approx(1.0, abs=1e-12)
        assert all(math.isfinite(v) for v in r.fingerprint)


def test_unseen_archetype_same_id_across_runs(spark: SparkSession) -> None:
    model = ScoringModel.from_manifest(hand_manifest(registry=[]))

    def ids() -> dict[str, tuple[str, bool]]:
        df = score_profiles(features(spark), model, known(spark, []))
        return {r.customer_id: (r.archetype_id, r.archetype_is_new) for r in df.collect()}

    first, second = ids(), ids()
    assert first == second
    assert all(new for _, new in first.values())
    assert first["C1"][0] != first["C2"][0]
    # The id is the key's, not the process's: the scoring workers (Python) give what Spark SQL's own SHA-256
    # expression (the registry's) gives, and what a fresh interpreter with another hash seed gives.
    df = score_profiles(features(spark), model, known(spark, []))
    by_sql = {
        r.customer_id: r.sql_id
        for r in df.select("customer_id", archetype_id_column(F.col("archetype_key")).alias("sql_id")).collect()
    }
    assert by_sql == {c: i for c, (i, _) in first.items()}
    keys = [r.archetype_key for r in df.orderBy("customer_id").collect()]
    code = "import sys; from segspark.model.identity import archetype_id; print(*map(archetype_id, sys.argv[1:]))"
    other = subprocess.run(
        [sys.executable, "-c", code, *keys],
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert other.stdout.split() == [first[c][0] for c in sorted(first)]


def test_profile_from_disk_equals_in_memory(spark: SparkSession, warehouse: str) -> None:
    manifest = hand_manifest()
    model = ScoringModel.from_manifest(manifest)
    df = score_profiles(features(spark), model, known(spark)).withColumn("lifetime_value", F.lit(12.5))
    write_partition(df, root=warehouse, table="customer_profiles", key="snapshot_date", value="2024-01-01", run_id="r1")
    back = read_partitions(spark, root=warehouse, table="customer_profiles", key="snapshot_date", values=["2024-01-01"])
    row = back.filter(F.col("customer_id") == "C6").first()
    assert row is not None
    from_disk = level3_document(model, row.asDict(recursive=True))

    raw = np.array([[0.1, np.nan, 7.5]])
    s = score(model, raw)
    rec: dict[str, Any] = profile_record(model, s, 0, archetype_keys(model, s), OBSERVED)
    in_memory = level3_document(
        model, {**rec, "customer_id": "C6", "snapshot_date": "2024-01-01", "lifetime_value": 12.5}
    )
    assert_close(from_disk, in_memory)


def assert_close(a: Any, b: Any) -> None:
    """Equal structure and values; floats to 1e-12."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_close(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_close(x, y)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12)
    else:
        assert a == b


def test_missing_feature_column_names_it(spark: SparkSession) -> None:
    from segspark.score.step import profiles

    orders = spark.createDataFrame([], "customer_id string")
    with pytest.raises(SegsparkError, match="value__v"):
        profiles(
            features(spark).drop("value__v"), orders, hand_manifest(), as_of=date(2024, 1, 1), registry=known(spark)
        )


def test_vectors_pass_equals_numpy_core(spark: SparkSession) -> None:
    from segspark.score.spark import score_vectors

    model = ScoringModel.from_manifest(hand_manifest())
    got = {r.customer_id: r for r in score_vectors(features(spark), model).collect()}
    raw = np.array([[np.nan if v is None else v for v in r[1:]] for r in ROWS], dtype=float)
    s = score(model, raw)
    keys = archetype_keys(model, s)
    for i, r in enumerate(ROWS):
        rec = profile_record(model, s, i, keys, OBSERVED)
        row = got[r[0]]
        assert row.archetype_id == rec["archetype_id"]
        assert row.fingerprint == rec["fingerprint"]
        flat = [rec["segment_memberships"][a][sid] for a, sid in model.fingerprint_layout]
        assert row.memberships == flat


@pytest.mark.parametrize(
    "spec", [{"kind": "none"}, {"kind": "log1p"}, {"kind": "signed_log1p"}, {"kind": "clip", "low": -2.5, "high": 40.0}]
)
def test_every_transform_gives_the_same_numbers_in_spark_and_numpy(spark: SparkSession, spec: dict[str, Any]) -> None:
    """Fit and the Spark scoring pass use `spark_transform`, the numpy core `numpy_transform`: a customer must
    get the same transformed value from both (nulls imputed, negatives, zeros, huge values, the clip bounds)."""
    from segspark.model.transforms import numpy_transform, spark_transform

    values = [None, -1e9, -3.0, -2.5, -1e-12, 0.0, 1e-12, 0.5, 1.0, 39.9, 40.0, 1e12, float("inf"), float("-inf")]
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "i int, x double")
    got = [r.y for r in df.select("i", spark_transform(F.col("x"), spec, 3.25).alias("y")).orderBy("i").collect()]
    expected = numpy_transform(np.array([np.nan if v is None else v for v in values]), spec, 3.25)
    np.testing.assert_allclose(np.array(got, dtype=float), expected, rtol=1e-15, atol=0)
