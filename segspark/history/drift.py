"""Drift between two profile snapshots, as Spark column expressions (SPEC section 7).

Segments are compared by id. Within one model the ids are the same on both
dates; across model versions the fit's identity matching gives a matched
segment its previous id, so comparing the ids both snapshots share compares
matched segments only. Segments present on one side only are reported in
`unmatched_segments`, never compared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

STABLE, MODERATE, RAPID = "STABLE", "MODERATE_DRIFT", "RAPID_DRIFT"
LEVELS = (STABLE, MODERATE, RAPID)  # in order of severity
HIGH, MEDIUM, LOW = "HIGH", "MEDIUM", "LOW"

TREND = T.StructType(
    [
        T.StructField("short", T.DoubleType()),
        T.StructField("long", T.DoubleType()),
        T.StructField("acceleration", T.DoubleType()),
        T.StructField("declining_accelerating", T.BooleanType()),
    ]
)
AXIS_CHANGE = T.StructType(
    [T.StructField("axis", T.StringType()), T.StructField("from", T.StringType()), T.StructField("to", T.StringType())]
)


@dataclass(frozen=True)
class DriftRules:
    """Thresholds from the `drift` config section."""

    rapid: float = 0.015
    moderate: float = 0.008
    churn_velocity: float = 0.010
    frequency_axis: str = "purchase_frequency"

    @classmethod
    def from_config(cls, cfg: Mapping[str, object]) -> DriftRules:
        """Read the thresholds from the `drift` config section."""
        return cls(
            rapid=float(cfg["rapid"]),  # type: ignore[arg-type]
            moderate=float(cfg["moderate"]),  # type: ignore[arg-type]
            churn_velocity=float(cfg["churn_velocity"]),  # type: ignore[arg-type]
            frequency_axis=str(cfg["frequency_axis"]),
        )


def alert(velocity: Column, rules: DriftRules) -> Column:
    """RAPID_DRIFT if velocity > rapid, MODERATE_DRIFT if > moderate, else STABLE (null velocity: null)."""
    return (
        F.when(velocity > F.lit(rules.rapid), F.lit(RAPID))
        .when(velocity > F.lit(rules.moderate), F.lit(MODERATE))
        .when(velocity.isNotNull(), F.lit(STABLE))
    )


def worst(alerts: Sequence[Column]) -> Column:
    """The most severe of several alert columns."""
    if not alerts:
        return F.lit(STABLE)
    rank = F.greatest(*[F.array_position(F.array(*map(F.lit, LEVELS)), a) for a in alerts], F.lit(1))
    return F.element_at(F.array(*map(F.lit, LEVELS)), rank.cast("int"))


def velocity(current: Column, base: Column, segments: Sequence[str], days: int | Column) -> Column:
    """||m_current - m_base||_2 / days over the given (shared) segments of one axis."""
    if not segments:
        return F.lit(None).cast("double")
    sq = [(current[s] - base[s]) ** 2 for s in segments]
    return F.sqrt(sum(sq[1:], sq[0])) / _days(days)


def _days(days: int | Column) -> Column:
    return days.cast("double") if isinstance(days, Column) else F.lit(float(days))


def churn_risk(
    tier_now: Column, tier_base: Column, freq_velocity: Column, held_now: Column, held_base: Column, rules: DriftRules
) -> Column:
    """HIGH / MEDIUM / LOW from the frequency axis (see docs/history.md).

    HIGH: the customer dropped at least one frequency tier and the axis's velocity exceeds churn_velocity.
    MEDIUM: dropped a tier more slowly, or drifts faster than `moderate` away from the segment held at baseline.
    LOW: otherwise.
    """
    dropped = tier_now < tier_base
    leaving = (freq_velocity > F.lit(rules.moderate)) & (held_now < held_base)
    return (
        F.when(dropped & (freq_velocity > F.lit(rules.churn_velocity)), F.lit(HIGH))
        .when(dropped | leaving, F.lit(MEDIUM))
        .when(tier_now.isNotNull() & tier_base.isNotNull(), F.lit(LOW))
    )


def trend(m7: Column, m14: Column, m90: Column, m180: Column, min_decline: float = 0.0) -> Column:
    """short = m7 - m14, long = m90 - m180, acceleration = short - long; flagged declining and accelerating when
    short < -min_decline and acceleration < 0 (a floor keeps rounding-sized moves of dormant customers out)."""
    short = m7 - m14
    long = m90 - m180
    acceleration = short - long
    return F.struct(
        short.alias("short"),
        long.alias("long"),
        acceleration.alias("acceleration"),
        ((short < F.lit(-min_decline)) & (acceleration < 0)).alias("declining_accelerating"),
    )


@dataclass(frozen=True)
class Segments:
    """Segment ids per axis of the two snapshots being compared."""

    current: Mapping[str, Sequence[str]]
    base: Mapping[str, Sequence[str]]

    def shared(self, axis: str) -> list[str]:
        """Ids both sides carry, in the current model's order."""
        base = set(self.base.get(axis, ()))
        return [s for s in self.current.get(axis, ()) if s in base]

    def unmatched(self) -> list[str]:
        """`axis/side:segment` for every segment present on one side only."""
        out = []
        for axis in sorted(set(self.current) | set(self.base)):
            cur, base = set(self.current.get(axis, ())), set(self.base.get(axis, ()))
            out += [f"{axis}:current:{s}" for s in sorted(cur - base)]
            out += [f"{axis}:baseline:{s}" for s in sorted(base - cur)]
        return out

    def axes(self) -> list[str]:
        """Axes both snapshots scored, in the current model's order."""
        return [a for a in self.current if a in self.base]


# The profile columns drift reads.
DRIFT_INPUTS = ("customer_id", "archetype_id", "segment_memberships", "dominant_segments", "segment_tiers")


def tag_baseline(base: DataFrame, baseline_date: str, days: int, offset: int | None = None) -> DataFrame:
    """A baseline snapshot with the columns the drift of several baselines groups by: baseline_date, days_elapsed
    (true days from the baseline to the current snapshot) and baseline_offset (the configured offset it serves)."""
    return base.select(
        "*",
        F.lit(baseline_date).alias("baseline_date"),
        F.lit(int(days)).alias("days_elapsed"),
        F.lit(int(days if offset is None else offset)).alias("baseline_offset"),
    )


def customer_drift(
    current: DataFrame,
    base: DataFrame,
    *,
    days: int,
    baseline_date: str,
    segments: Segments,
    archetype_axes: Sequence[str],
    rules: DriftRules,
) -> DataFrame:
    """One row per customer present on both snapshots: velocity, alerts, migration and churn risk."""
    return baselines_drift(
        current, tag_baseline(base, baseline_date, days), segments=segments, archetype_axes=archetype_axes, rules=rules
    )


def baselines_drift(
    current: DataFrame, bases: DataFrame, *, segments: Segments, archetype_axes: Sequence[str], rules: DriftRules
) -> DataFrame:
    """`customer_drift` against several baselines at once: one row per customer and baseline.

    `bases` is the union of baseline snapshots scored with one model, each tagged
    by `tag_baseline`. One join and one set of expressions serve them all, where a
    plan per baseline would repeat the same expressions (and their planning) for
    every baseline.
    """
    cols = DRIFT_INPUTS
    cur = current.select(*[F.col(c).alias(c if c == "customer_id" else f"c_{c}") for c in cols])
    old = bases.select(
        "baseline_date",
        "days_elapsed",
        "baseline_offset",
        *[F.col(c).alias(c if c == "customer_id" else f"b_{c}") for c in cols],
    )
    joined = cur.join(old, "customer_id", how="inner")
    days = F.col("days_elapsed")
    axes = segments.axes()
    vel = {
        a: velocity(F.col("c_segment_memberships")[a], F.col("b_segment_memberships")[a], segments.shared(a), days)
        for a in axes
    }
    per_segment = {
        a: F.create_map(
            *[
                part
                for s in segments.shared(a)
                for part in (
                    F.lit(s),
                    (F.col("c_segment_memberships")[a][s] - F.col("b_segment_memberships")[a][s]) / _days(days),
                )
            ]
        )
        for a in axes
    }
    alerts = {a: alert(v, rules) for a, v in vel.items()}
    changes = [
        F.struct(
            F.lit(a).alias("axis"),
            F.col("b_dominant_segments")[a].alias("from"),
            F.col("c_dominant_segments")[a].alias("to"),
        )
        for a in archetype_axes
        if a in axes
    ]
    changed = (
        F.filter(F.array(*changes), lambda s: ~s["from"].eqNullSafe(s["to"]))
        if changes
        else F.array().cast(T.ArrayType(AXIS_CHANGE))
    )
    f = rules.frequency_axis
    if f in axes:
        held = F.col("b_dominant_segments")[f]
        risk = churn_risk(
            F.col("c_segment_tiers")[f],
            F.col("b_segment_tiers")[f],
            vel[f],
            F.col("c_segment_memberships")[f][held],
            F.col("b_segment_memberships")[f][held],
            rules,
        )
    else:
        risk = F.lit(None).cast("string")
    return joined.select(
        "customer_id",
        F.col("baseline_date").cast("string").alias("baseline_date"),
        days.cast("int").alias("days_elapsed"),
        F.col("baseline_offset").cast("int").alias("baseline_offset"),
        F.create_map(*[p for a in axes for p in (F.lit(a), per_segment[a])]).alias("change_per_day"),
        F.create_map(*[p for a in axes for p in (F.lit(a), vel[a])]).alias("velocity"),
        F.create_map(*[p for a in axes for p in (F.lit(a), alerts[a])]).alias("alert"),
        worst(list(alerts.values())).alias("overall_alert"),
        (~F.col("c_archetype_id").eqNullSafe(F.col("b_archetype_id"))).alias("migrated"),
        F.col("b_archetype_id").alias("from_archetype"),
        F.col("c_archetype_id").alias("to_archetype"),
        changed.cast(T.ArrayType(AXIS_CHANGE)).alias("axes_changed"),
        risk.alias("churn_risk"),
        F.array(*map(F.lit, segments.unmatched())).cast(T.ArrayType(T.StringType())).alias("unmatched_segments"),
    )
