"""Percentiles and percent ranks read off a price ladder agree with Spark's own functions."""

from __future__ import annotations

import numpy as np
import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segspark.features.ladder import ladder_percentile, percent_rank, price_ladder

SCHEMA = T.StructType([T.StructField("g", T.StringType()), T.StructField("unit_price", T.DoubleType())])


def _lines(spark: SparkSession) -> DataFrame:
    rng = np.random.default_rng(11)
    rows: list[tuple[str, float | None]] = []
    rows += [("cont", float(v)) for v in rng.lognormal(1, 1, 501)]
    rows += [("ties", float(v)) for v in rng.choice([0.5, 1.0, 1.0, 2.5, 9.0], 400)]  # mostly repeated prices
    rows += [("one", 4.2), ("two", 1.0), ("two", 3.0), ("same", 2.0), ("same", 2.0), ("same", 2.0)]
    rows += [("nulls", None), ("nulls", 5.0), ("nulls", None), ("nulls", 1.0), ("nulls", 2.0)]
    return spark.createDataFrame(rows, SCHEMA)


@pytest.mark.parametrize("p", [0.5, 0.9, 0.0, 1.0, 0.37])
def test_ladder_percentile_equals_spark_percentile(spark: SparkSession, p: float) -> None:
    lines = _lines(spark)
    got = ladder_percentile(price_ladder(lines, "g"), "g", p, "v")
    expected = lines.groupBy("g").agg(F.percentile("unit_price", p).alias("v"))
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_ladder_percentile_by_hand(spark: SparkSession) -> None:
    # Prices 1, 2, 2, 10: the median sits at position 1.5 (2 and 2) -> 2; p90 at 2.7 -> 0.3 * 2 + 0.7 * 10 = 7.6.
    lines = spark.createDataFrame([("a", 1.0), ("a", 2.0), ("a", 10.0), ("a", 2.0)], SCHEMA)
    ladder = price_ladder(lines, "g")
    assert ladder_percentile(ladder, "g", 0.5, "v").first()["v"] == 2.0  # type: ignore[index]
    assert ladder_percentile(ladder, "g", 0.9, "v").first()["v"] == pytest.approx(7.6, abs=1e-12)  # type: ignore[index]


def test_percent_rank_on_the_ladder_equals_spark_percent_rank_of_lines(spark: SparkSession) -> None:
    lines = _lines(spark).filter(F.col("unit_price").isNotNull())
    ladder = price_ladder(lines, "g").withColumn("pct", percent_rank())
    got = lines.join(ladder.select("g", "unit_price", "pct"), ["g", "unit_price"]).select("g", "unit_price", "pct")
    # Spark's percent_rank gives tied lines the rank of the first of them: the share of strictly cheaper lines.
    spark_rank = F.percent_rank().over(Window.partitionBy("g").orderBy("unit_price"))
    expected = lines.select("g", "unit_price", spark_rank.alias("pct"))
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
