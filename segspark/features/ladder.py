"""Exact ranks and percentiles of unit prices per group, read off a ladder of distinct prices.

Spark's exact `percentile` and `median` keep a hash map of every distinct value
per group and exchange those maps between the partial and final aggregations:
over every purchase line that was the slowest step of the feature engine. A
ladder (each group's distinct prices with their line counts and the number of
cheaper lines) is a plain aggregate plus two windows over far fewer rows, and
gives the same numbers.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segspark.features import windows as W


def price_ladder(lines: DataFrame, key: str) -> DataFrame:
    """(key, unit_price, k, below, group_n): distinct non-null prices per group, k lines at that price,
    `below` lines strictly cheaper, `group_n` lines in the group."""
    return (
        lines.filter(F.col("unit_price").isNotNull())
        .groupBy(key, "unit_price")
        .agg(F.count(F.lit(1)).alias("k"))
        .withColumn("below", F.coalesce(F.sum("k").over(W.price_ladder(key)), F.lit(0)))
        .withColumn("group_n", F.sum("k").over(W.whole_group(key)))
    )


def _price_at(rank: Column) -> Column:
    """The price of the ladder row whose lines hold 0-based `rank` (null on the other rows)."""
    return F.when((F.col("below") <= rank) & (rank < F.col("below") + F.col("k")), F.col("unit_price"))


def ladder_percentile(ladder: DataFrame, key: str, p: float, name: str) -> DataFrame:
    """(key, name): the exact p-th percentile of each group's prices, as Spark's `percentile` computes it.

    Spark places the percentile at position p * (n - 1) of the sorted values and
    interpolates linearly between the values at floor and ceil of that position.
    """
    position = (F.col("group_n") - 1).cast("double") * F.lit(p)
    lower, upper = F.floor(position), F.ceil(position)
    at = (
        ladder.withColumn("position", position)
        .groupBy(key)
        .agg(
            F.max("position").alias("position"),
            F.max(_price_at(lower)).alias("low"),
            F.max(_price_at(upper)).alias("high"),
        )
    )
    lo, hi, pos = F.col("low"), F.col("high"), F.col("position")
    interpolated = lo + (hi - lo) * (pos - F.floor(pos))
    return at.select(key, F.when(F.ceil(pos) == F.floor(pos), lo).otherwise(interpolated).alias(name))


def percent_rank() -> Column:
    """On a ladder row: the share of the group's other lines that are strictly cheaper (0 in a group of one line)."""
    return F.when(F.col("group_n") > 1, F.col("below") / (F.col("group_n") - 1)).otherwise(0.0)
