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

import math
from collections.abc import Mapping, Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from segspark.history.drift import Segments, tag_baseline

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


def _shape(df: DataFrame, kind: str) -> DataFrame:
    """Rows of one kind in the POPULATION schema; `df` carries baseline_date and days_elapsed."""
    return df.select(
        F.col("baseline_date").cast("string").alias("baseline_date"),
        F.col("days_elapsed").cast("int").alias("days_elapsed"),
        F.lit(kind).alias("kind"),
        *[
            (F.col(f.name) if f.name in df.columns else F.lit(None)).cast(f.dataType).alias(f.name)
            for f in POPULATION.fields[3:]
        ],
    )


def transitions(current: DataFrame, bases: DataFrame, axes: Sequence[str]) -> DataFrame:
    """baseline_date, days_elapsed, axis, from_segment, to_segment, customers: moves of the dominant segment.

    `bases` holds one or more baseline snapshots tagged by `tag_baseline`; only
    customers on both dates count.
    """
    joined = current.select("customer_id", F.col("dominant_segments").alias("c")).join(
        bases.select("customer_id", "baseline_date", "days_elapsed", F.col("dominant_segments").alias("b")),
        "customer_id",
        how="inner",
    )
    moves = F.array(
        *[
            F.struct(F.lit(a).alias("axis"), F.col("b")[a].alias("from_segment"), F.col("c")[a].alias("to_segment"))
            for a in axes
        ]
    )
    return (
        joined.select("baseline_date", "days_elapsed", F.explode(moves).alias("m"))
        .select("baseline_date", "days_elapsed", "m.*")
        .groupBy("baseline_date", "days_elapsed", "axis", "from_segment", "to_segment")
        .agg(F.count(F.lit(1)).alias("customers"))
    )


def mean_memberships_by(
    df: DataFrame, segments: Mapping[str, Sequence[str]], key: str
) -> dict[str, dict[tuple[str, str], float]]:
    """Per value of `key` (e.g. snapshot_date), the mean membership of every (axis, segment): one aggregate job.

    A pair a snapshot's model does not have averages to null and is left out.
    """
    pairs = [(a, s) for a, segs in segments.items() for s in segs]
    aggs = [F.avg(F.col("segment_memberships")[a][s]).alias(f"p{i}") for i, (a, s) in enumerate(pairs)]
    # The row count keeps the aggregate valid when there are no pairs (then every snapshot maps to {}).
    rows = df.groupBy(key).agg(F.count(F.lit(1)).alias("_n"), *aggs).collect()  # one row per snapshot
    return {
        str(r[key]): {pair: float(r[f"p{i}"]) for i, pair in enumerate(pairs) if r[f"p{i}"] is not None} for r in rows
    }


def mean_memberships(df: DataFrame, segments: Mapping[str, Sequence[str]]) -> dict[tuple[str, str], float]:
    """Mean membership of every (axis, segment) over all customers of a snapshot (one aggregate job)."""
    return mean_memberships_by(df.withColumn("_all", F.lit("")), segments, "_all").get("", {})


def psi(
    now: Mapping[tuple[str, str], float], then: Mapping[tuple[str, str], float], segments: Segments
) -> list[tuple[str, float]]:
    """(axis, PSI) from mean memberships, over the segments both sides share (renormalised to sum to 1)."""
    out = []
    for axis in segments.axes():
        shared = [s for s in segments.shared(axis) if (axis, s) in now and (axis, s) in then]
        if not shared:
            continue
        total_now = sum(now[(axis, s)] for s in shared) or 1.0
        total_then = sum(then[(axis, s)] for s in shared) or 1.0
        value = 0.0
        for s in shared:
            p = max(now[(axis, s)] / total_now, PSI_FLOOR)
            q = max(then[(axis, s)] / total_then, PSI_FLOOR)
            value += (p - q) * math.log(p / q)
        out.append((axis, value))
    return out


def population_drift(
    current: DataFrame,
    base: DataFrame,
    *,
    baseline_date: str,
    days: int,
    segments: Segments,
    psi_values: Sequence[tuple[str, float]],
) -> DataFrame:
    """Transitions and PSI of one baseline, in the POPULATION schema (flows come from the drift table)."""
    rows = [(baseline_date, int(days), a, float(v)) for a, v in psi_values]
    return baselines_population(current, tag_baseline(base, baseline_date, days), segments=segments, psi_rows=rows)


def baselines_population(
    current: DataFrame, bases: DataFrame, *, segments: Segments, psi_rows: Sequence[tuple[str, int, str, float]]
) -> DataFrame:
    """`population_drift` of several tagged baselines at once; psi_rows are (baseline_date, days, axis, PSI)."""
    spark = current.sparkSession
    psi_df = spark.createDataFrame(list(psi_rows), "baseline_date string, days_elapsed int, axis string, value double")
    return _shape(transitions(current, bases, segments.axes()), "transition").unionByName(_shape(psi_df, "psi"))


def flows_by_baseline(drift: DataFrame, top: int) -> DataFrame:
    """The largest archetype migrations of every baseline of a drift partition, in the POPULATION schema."""
    ranked = Window.partitionBy("baseline_date").orderBy(F.desc("customers"), "from_segment", "to_segment")
    return (
        drift.filter(F.col("migrated"))
        .groupBy(
            "baseline_date",
            "days_elapsed",
            F.col("from_archetype").alias("from_segment"),
            F.col("to_archetype").alias("to_segment"),
        )
        .agg(F.count(F.lit(1)).alias("customers"))
        .withColumn("rank", F.row_number().over(ranked))
        .filter(F.col("rank") <= top)
        .select(
            "baseline_date",
            F.col("days_elapsed").cast("int").alias("days_elapsed"),
            F.lit("archetype_flow").alias("kind"),
            F.lit(None).cast("string").alias("axis"),
            "from_segment",
            "to_segment",
            "customers",
            F.lit(None).cast("double").alias("value"),
        )
    )
