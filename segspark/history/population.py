"""Population-level drift between two snapshots: transitions, archetype flows, stability (PSI).

All three land in one long table, `drift_population/snapshot_date=D/`, one row
per (baseline, kind, axis, from, to):

- kind `transition`: customers whose dominant segment on `axis` went from -> to;
- kind `archetype_flow`: customers who migrated from one archetype to another
  (the `top_flows` largest flows per baseline);
- kind `psi`: the population stability index of the axis, in `value`: with p
  the mean membership per segment over all customers of a snapshot,
  PSI = sum over segments of (p_now - p_base) * ln(p_now / p_base).
  Below 0.1 is usually read as stable, above 0.25 as a large shift.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from segspark.history.drift import Segments

POPULATION = T.StructType(
    [
        T.StructField("baseline_date", T.StringType(), False),
        T.StructField("days_elapsed", T.IntegerType(), False),
        T.StructField("kind", T.StringType(), False),
        T.StructField("axis", T.StringType(), True),
        T.StructField("from_segment", T.StringType(), True),
        T.StructField("to_segment", T.StringType(), True),
        T.StructField("customers", T.LongType(), True),
        T.StructField("value", T.DoubleType(), True),
    ]
)
# Memberships are floored here before the logarithm so an empty segment gives a large, finite PSI.
PSI_FLOOR = 1e-6


def _shape(df: DataFrame, baseline_date: str, days: int, kind: str) -> DataFrame:
    return df.select(
        F.lit(baseline_date).alias("baseline_date"),
        F.lit(days).alias("days_elapsed"),
        F.lit(kind).alias("kind"),
        *[
            (F.col(f.name) if f.name in df.columns else F.lit(None)).cast(f.dataType).alias(f.name)
            for f in POPULATION.fields[3:]
        ],
    )


def transitions(current: DataFrame, base: DataFrame, axes: Sequence[str]) -> DataFrame:
    """axis, from_segment, to_segment, customers: moves of the dominant segment (customers on both dates)."""
    joined = current.select("customer_id", F.col("dominant_segments").alias("c")).join(
        base.select("customer_id", F.col("dominant_segments").alias("b")), "customer_id", how="inner"
    )
    moves = F.array(
        *[F.struct(F.lit(a).alias("axis"), F.col("b")[a].alias("from_segment"), F.col("c")[a].alias("to_segment"))
          for a in axes]
    )  # fmt: skip
    return (
        joined.select(F.explode(moves).alias("m"))
        .select("m.*")
        .groupBy("axis", "from_segment", "to_segment")
        .agg(F.count(F.lit(1)).alias("customers"))
    )


def archetype_flows(drift: DataFrame, top: int) -> DataFrame:
    """from_segment (archetype), to_segment (archetype), customers: the largest migrations."""
    ranked = Window.orderBy(F.desc("customers"), "from_segment", "to_segment")
    return (
        drift.filter(F.col("migrated"))
        .groupBy(F.col("from_archetype").alias("from_segment"), F.col("to_archetype").alias("to_segment"))
        .agg(F.count(F.lit(1)).alias("customers"))
        .withColumn("rank", F.row_number().over(ranked))  # one row per distinct flow: a small window
        .filter(F.col("rank") <= top)
        .drop("rank")
    )


def _mean_memberships(df: DataFrame, segments: Segments, side: str) -> DataFrame:
    pairs = [(a, s) for a in segments.axes() for s in segments.shared(a)]
    cells = F.array(
        *[F.struct(F.lit(a).alias("axis"), F.lit(s).alias("segment"),
                   F.col("segment_memberships")[a][s].alias("m")) for a, s in pairs]
    )  # fmt: skip
    means = df.select(F.explode(cells).alias("x")).select("x.*").groupBy("axis", "segment").agg(F.avg("m").alias("p"))
    # Renormalise over the shared segments (they are all of them within one model).
    total = Window.partitionBy("axis").rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    return means.select("axis", "segment", (F.col("p") / F.sum("p").over(total)).alias(side))


def psi(current: DataFrame, base: DataFrame, segments: Segments) -> DataFrame:
    """axis, value: the population stability index of each axis's mean memberships."""
    if not any(segments.shared(a) for a in segments.axes()):
        return current.sparkSession.createDataFrame([], "axis string, value double")
    now = _mean_memberships(current, segments, "now")
    then = _mean_memberships(base, segments, "then")
    p_now = F.greatest(F.col("now"), F.lit(PSI_FLOOR))
    p_then = F.greatest(F.col("then"), F.lit(PSI_FLOOR))
    return (
        now.join(then, ["axis", "segment"], how="inner")
        .groupBy("axis")
        .agg(F.sum((p_now - p_then) * F.log(p_now / p_then)).alias("value"))
    )


def population_drift(
    current: DataFrame,
    base: DataFrame,
    drift: DataFrame,
    *,
    baseline_date: str,
    days: int,
    segments: Segments,
    top_flows: int,
) -> DataFrame:
    """The three population tables of one baseline, in the POPULATION schema."""
    return (
        _shape(transitions(current, base, segments.axes()), baseline_date, days, "transition")
        .unionByName(_shape(archetype_flows(drift, top_flows), baseline_date, days, "archetype_flow"))
        .unionByName(_shape(psi(current, base, segments), baseline_date, days, "psi"))
    )
