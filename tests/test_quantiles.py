"""Exact quantiles in two passes agree with Spark's exact `percentile`, value for value."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from segspark.model import quantiles
from segspark.model.quantiles import _Bracket, exact_quantiles, interpolate

PROBS = [0.5, 0.01, 0.05, 0.25, 0.95, 0.99, 0.0, 1.0]


def test_interpolation_follows_spark_percentile_by_hand() -> None:
    values = [1.0, 2.0, 4.0, 10.0]  # ranks 0..3
    at = values.__getitem__
    # p = 0.5: position 1.5, halfway between 2 and 4.
    assert interpolate(0.5, 4, at) == 3.0
    # p = 0.9: position 2.7 -> 0.3 * 4 + 0.7 * 10 = 8.2.
    assert interpolate(0.9, 4, at) == pytest.approx(8.2, abs=1e-12)
    assert interpolate(0.0, 4, at) == 1.0 and interpolate(1.0, 4, at) == 10.0
    assert interpolate(0.5, 1, [7.0].__getitem__) == 7.0


def test_bracket_reads_ranks_through_ties_and_refuses_ranks_outside() -> None:
    # 3 values below 5; 2 at 5; 6 and 7 inside; 4 at 9.
    b = _Bracket(below=3, at_low=2, inside=[6.0, 7.0], at_high=4, low=5.0, high=9.0)
    assert [b.value_at(r) for r in range(3, 11)] == [5.0, 5.0, 6.0, 7.0, 9.0, 9.0, 9.0, 9.0]
    assert b.value_at(2) is None and b.value_at(11) is None
    same = _Bracket(below=0, at_low=5, inside=[], at_high=5, low=0.0, high=0.0)
    assert same.value_at(4) == 0.0 and same.value_at(5) is None
    # With its neighbours: 1 (largest below 5) at rank 2, 12 (smallest above 9) at rank 11, nothing further.
    wide = _Bracket(below=3, at_low=2, inside=[6.0, 7.0], at_high=4, low=5.0, high=9.0, before=1.0, after=12.0)
    assert [wide.value_at(r) for r in (1, 2, 3, 10, 11, 12)] == [None, 1.0, 5.0, 9.0, 12.0, None]
    one = _Bracket(below=4, at_low=3, inside=[], at_high=3, low=2.0, high=2.0, before=1.5, after=2.5)
    assert [one.value_at(r) for r in (3, 4, 6, 7, 8)] == [1.5, 2.0, 2.0, 2.5, None]


def _frame(spark: SparkSession, columns: dict[str, list[float | None]]) -> object:
    n = len(next(iter(columns.values())))
    schema = T.StructType([T.StructField(c, T.DoubleType(), True) for c in columns])
    return spark.createDataFrame([tuple(columns[c][i] for c in columns) for i in range(n)], schema)


@pytest.mark.parametrize("accuracy", [10_000, 20])
def test_exact_quantiles_equal_spark_percentile(
    spark: SparkSession, monkeypatch: pytest.MonkeyPatch, accuracy: int
) -> None:
    # accuracy 20 makes the approximate brackets wide, so ranks are read deep inside them.
    monkeypatch.setattr(quantiles, "ACCURACY", accuracy)
    rng = np.random.default_rng(5)
    n = 3002  # positions p * 3001 fall between ranks, so interpolation is compared too
    cont = rng.lognormal(0, 1, n).tolist()
    zeros = np.where(rng.random(n) < 0.7, 0.0, rng.integers(1, 4, n)).tolist()  # mostly ties
    nulls = [None if i % 3 else float(i % 17) for i in range(n)]
    df = _frame(spark, {"cont": cont, "zeros": zeros, "nulls": nulls, "empty": [None] * n})
    wanted = {"cont": PROBS, "zeros": PROBS, "nulls": PROBS, "empty": [0.5]}
    expected = quantiles.spark_percentiles(df, wanted)  # type: ignore[arg-type]
    assert expected["empty"] == [None]

    def no_fallback(*_: object) -> None:
        raise AssertionError("a bracket missed its ranks")

    monkeypatch.setattr(quantiles, "spark_percentiles", no_fallback)
    assert exact_quantiles(df, wanted) == expected  # type: ignore[arg-type]


def test_what_reaches_the_driver_is_bounded_whatever_the_rows(
    spark: SparkSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A low floor on the accuracy and a small limit: the accuracy must grow with the rows to keep every bracket
    # within the limit, and the answer stays exact.
    monkeypatch.setattr(quantiles, "ACCURACY", 20)
    monkeypatch.setattr(quantiles, "COLLECT_LIMIT", 100)
    assert quantiles.accuracy_for(3002) == 181 and quantiles.accuracy_for(100) == 20
    sizes: list[int] = []

    class Counted(_Bracket):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            sizes.append(len(self.inside))

    monkeypatch.setattr(quantiles, "_Bracket", Counted)
    rng = np.random.default_rng(8)
    df = _frame(spark, {"cont": rng.lognormal(0, 1, 3002).tolist()})
    expected = quantiles.spark_percentiles(df, {"cont": PROBS})  # type: ignore[arg-type]
    assert exact_quantiles(df, {"cont": PROBS}) == expected  # type: ignore[arg-type]
    assert len(sizes) == len(PROBS) and max(sizes) <= 100
    # The same rows at the floor accuracy would have brought far more: the bound is the accuracy's doing.
    monkeypatch.setattr(quantiles, "accuracy_for", lambda rows: 20)
    sizes.clear()
    assert exact_quantiles(df, {"cont": PROBS}) == expected  # type: ignore[arg-type]
    assert max(sizes) > 100


def test_a_bracket_that_misses_falls_back_to_spark(spark: SparkSession, monkeypatch: pytest.MonkeyPatch) -> None:
    xs, ys = [float(i % 13) for i in range(200)], [float(i) ** 1.5 for i in range(200)]
    df = _frame(spark, {"x": xs, "y": ys})
    wanted = {"x": [0.5, 0.9], "y": [0.5, 0.37]}
    calls: list[int] = []
    real = quantiles.spark_percentiles
    monkeypatch.setattr(_Bracket, "value_at", lambda self, rank: None)
    monkeypatch.setattr(quantiles, "spark_percentiles", lambda *a: calls.append(1) or real(*a))
    got = exact_quantiles(df, wanted)  # type: ignore[arg-type]
    assert calls, "the bracket missed but Spark's percentile was not asked"
    # Spark's percentile interpolates linearly between order statistics, as numpy's default does.
    for name, values in (("x", xs), ("y", ys)):
        np.testing.assert_allclose(got[name], np.percentile(values, [100 * p for p in wanted[name]]), rtol=1e-12)


def test_exact_quantiles_small_columns(spark: SparkSession) -> None:
    df = _frame(spark, {"one": [3.5, None], "two": [1.0, 4.0]})
    got = exact_quantiles(df, {"one": [0.5, 0.9], "two": [0.5, 0.25]})  # type: ignore[arg-type]
    assert got == {"one": [3.5, 3.5], "two": [2.5, 1.75]}
