"""Drift rules on hand-made profiles: the seed's worked examples and every threshold boundary."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segspark.history.drift import (
    DriftRules,
    Segments,
    alert,
    baselines_drift,
    churn_risk,
    customer_drift,
    tag_baseline,
    trend,
)
from segspark.history.population import flows_by_baseline, mean_memberships, population_drift, psi, transitions
from segspark.score.spark import PROFILE_SCHEMA

FREQ = ["high_frequency", "medium_frequency", "low_frequency"]
VALUE = ["high_value", "medium_value"]
SEGMENTS = Segments(
    {"purchase_frequency": FREQ, "purchase_value": VALUE}, {"purchase_frequency": FREQ, "purchase_value": VALUE}
)
TIERS = {
    "purchase_frequency": {"high_frequency": 3, "medium_frequency": 2, "low_frequency": 1},
    "purchase_value": {"high_value": 2, "medium_value": 1},
}


def profile(cid: str, freq: list[float], value: list[float], archetype: str = "A1") -> tuple[Any, ...]:
    members = {
        "purchase_frequency": dict(zip(FREQ, freq, strict=True)),
        "purchase_value": dict(zip(VALUE, value, strict=True)),
    }
    dominant = {a: max(m, key=m.__getitem__) for a, m in members.items()}
    tiers = {a: TIERS[a][s] for a, s in dominant.items()}
    return (
        cid,
        "m",
        archetype,
        "|".join(dominant.values()),
        False,
        members,
        members,
        dominant,
        {a: "strong" for a in members},
        tiers,
        [0.0],
    )


def frame(spark: SparkSession, rows: list[tuple[Any, ...]]) -> DataFrame:
    return spark.createDataFrame(rows, PROFILE_SCHEMA)


def drift_rows(
    spark: SparkSession, now: list[tuple[Any, ...]], then: list[tuple[Any, ...]], days: int
) -> dict[str, Any]:
    d = customer_drift(
        frame(spark, now),
        frame(spark, then),
        days=days,
        baseline_date="b",
        segments=SEGMENTS,
        archetype_axes=["purchase_frequency", "purchase_value"],
        rules=DriftRules(),
    )
    return {r.customer_id: r for r in d.collect()}


def test_seed_fourteen_day_example(spark: SparkSession) -> None:
    now = [profile("C", [0.786, 0.175, 0.039], [0.9, 0.1])]
    then = [profile("C", [0.920, 0.065, 0.015], [0.9, 0.1])]
    r = drift_rows(spark, now, then, 14)["C"]
    # sqrt(0.134^2 + 0.110^2 + 0.024^2) = sqrt(0.017956 + 0.0121 + 0.000576) = sqrt(0.030632) = 0.1750,
    # / 14 = 0.0125 per day. The seed prints 0.174 and 0.0124 because it adds the squares up to 0.030436;
    # the conclusion, MODERATE_DRIFT, is the same.
    assert round(r.velocity["purchase_frequency"] * 14, 4) == 0.1750
    assert round(r.velocity["purchase_frequency"], 4) == 0.0125
    assert r.alert["purchase_frequency"] == "MODERATE_DRIFT"
    assert r.alert["purchase_value"] == "STABLE"
    assert r.overall_alert == "MODERATE_DRIFT"
    assert r.change_per_day["purchase_frequency"]["high_frequency"] == pytest.approx(-0.134 / 14)
    assert r.days_elapsed == 14 and not r.migrated and r.axes_changed == []


def test_seed_migration_example(spark: SparkSession) -> None:
    now = [profile("C", [0.8, 0.15, 0.05], [0.7, 0.3], archetype="A427")]
    then = [profile("C", [0.8, 0.15, 0.05], [0.3, 0.7], archetype="A189")]
    r = drift_rows(spark, now, then, 28)["C"]
    assert r.migrated and (r.from_archetype, r.to_archetype) == ("A189", "A427")
    assert [c.asDict() for c in r.axes_changed] == [
        {"axis": "purchase_value", "from": "medium_value", "to": "high_value"}
    ]
    assert r.days_elapsed == 28


def test_churn_rule(spark: SparkSession) -> None:
    now = [
        profile("fast_drop", [0.2, 0.7, 0.1], [0.5, 0.5]),  # high -> medium frequency, fast
        profile("slow_drop", [0.45, 0.5, 0.05], [0.5, 0.5]),  # high -> medium, slowly
        profile("fading", [0.55, 0.4, 0.05], [0.5, 0.5]),  # still high, losing membership fast enough
        profile("steady", [0.9, 0.08, 0.02], [0.5, 0.5]),
        profile("collapse", [0.1, 0.2, 0.7], [0.5, 0.5]),  # high -> low frequency: two tiers down
    ]
    then = [
        profile("fast_drop", [0.9, 0.08, 0.02], [0.5, 0.5]),
        profile("slow_drop", [0.55, 0.4, 0.05], [0.5, 0.5]),
        profile("fading", [0.9, 0.08, 0.02], [0.5, 0.5]),
        profile("steady", [0.9, 0.08, 0.02], [0.5, 0.5]),
        profile("collapse", [0.7, 0.2, 0.1], [0.5, 0.5]),
    ]
    rows = drift_rows(spark, now, then, 28)
    v = {c: r.velocity["purchase_frequency"] for c, r in rows.items()}
    assert v["fast_drop"] > 0.010 and rows["fast_drop"].churn_risk == "HIGH"
    assert v["slow_drop"] <= 0.010 and rows["slow_drop"].churn_risk == "MEDIUM"
    assert v["fading"] > 0.008 and rows["fading"].churn_risk == "MEDIUM"
    assert rows["steady"].churn_risk == "LOW"
    assert v["collapse"] > 0.010 and rows["collapse"].churn_risk == "HIGH"


def test_churn_velocity_boundary(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [(2, 3, 0.010, 0.5, 0.9), (2, 3, 0.0100001, 0.5, 0.9), (3, 3, 0.02, 0.5, 0.9), (3, 3, 0.008, 0.5, 0.9)],
        "t_now int, t_base int, v double, held_now double, held_base double",
    )
    risk = churn_risk(F.col("t_now"), F.col("t_base"), F.col("v"), F.col("held_now"), F.col("held_base"), DriftRules())
    # Exactly 0.010 is not above the threshold; a tier kept at 0.008 is not above `moderate`.
    assert [r[0] for r in df.select(risk).collect()] == ["MEDIUM", "HIGH", "MEDIUM", "LOW"]


def test_alert_boundaries(spark: SparkSession) -> None:
    df = spark.createDataFrame([(0.015,), (0.0150001,), (0.008,), (0.0080001,), (0.0,), (None,)], "v double")
    got = [r[0] for r in df.select(alert(F.col("v"), DriftRules())).collect()]
    assert got == ["MODERATE_DRIFT", "RAPID_DRIFT", "STABLE", "MODERATE_DRIFT", "STABLE", None]


def test_seed_trend_example(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [(0.786, 0.820, 0.920, 0.935), (0.9, 0.8, 0.7, 0.6)], "m7 double, m14 double, m90 double, m180 double"
    )
    rows = df.select(trend(F.col("m7"), F.col("m14"), F.col("m90"), F.col("m180")).alias("t")).collect()
    first = rows[0].t
    assert (round(first.short, 3), round(first.long, 3), round(first.acceleration, 3)) == (-0.034, -0.015, -0.019)
    assert first.declining_accelerating is True
    assert rows[1].t.declining_accelerating is False  # rising
    # With a floor of 0.05, the seed's 3.4-point weekly decline is no longer flagged; 0.03 still flags it.
    floors = df.select(*[trend(*map(F.col, ("m7", "m14", "m90", "m180")), x).alias(str(x)) for x in (0.05, 0.03)])
    assert [(r["0.05"].declining_accelerating, r["0.03"].declining_accelerating) for r in floors.collect()] == [
        (False, True),
        (False, False),
    ]


def test_unmatched_segments_are_reported_not_compared(spark: SparkSession) -> None:
    segments = Segments(
        {"purchase_frequency": ["high_frequency", "new_seg"]}, {"purchase_frequency": ["high_frequency", "old_seg"]}
    )
    now = spark.createDataFrame(
        [
            (
                "C",
                "A",
                {"purchase_frequency": {"high_frequency": 0.6, "new_seg": 0.4}},
                {"purchase_frequency": "high_frequency"},
                {"purchase_frequency": 2},
            )
        ],
        "customer_id string, archetype_id string, segment_memberships map<string,map<string,double>>, "
        "dominant_segments map<string,string>, segment_tiers map<string,int>",
    )
    then = spark.createDataFrame(
        [
            (
                "C",
                "A",
                {"purchase_frequency": {"high_frequency": 0.9, "old_seg": 0.1}},
                {"purchase_frequency": "high_frequency"},
                {"purchase_frequency": 2},
            )
        ],
        now.schema,
    )
    d = customer_drift(
        now, then, days=10, baseline_date="b", segments=segments, archetype_axes=[], rules=DriftRules()
    ).first()
    assert d is not None
    # Only high_frequency is compared: |0.6 - 0.9| / 10.
    assert d.velocity["purchase_frequency"] == pytest.approx(0.03)
    assert set(d.change_per_day["purchase_frequency"]) == {"high_frequency"}
    assert d.unmatched_segments == ["purchase_frequency:current:new_seg", "purchase_frequency:baseline:old_seg"]


def test_population_tables(spark: SparkSession) -> None:
    now = [
        profile("C1", [0.2, 0.7, 0.1], [0.5, 0.5], "B"),
        profile("C2", [0.9, 0.08, 0.02], [0.6, 0.4], "A"),
        profile("C3", [0.2, 0.7, 0.1], [0.5, 0.5], "B"),
    ]
    then = [
        profile("C1", [0.9, 0.08, 0.02], [0.5, 0.5], "A"),
        profile("C2", [0.9, 0.08, 0.02], [0.6, 0.4], "A"),
        profile("C3", [0.9, 0.08, 0.02], [0.5, 0.5], "A"),
    ]
    cur, base = frame(spark, now), frame(spark, then)
    values = psi(mean_memberships(cur, SEGMENTS.current), mean_memberships(base, SEGMENTS.base), SEGMENTS)
    pop = population_drift(cur, base, baseline_date="b", days=7, segments=SEGMENTS, psi_values=values).collect()
    moves = {(r.axis, r.from_segment, r.to_segment): r.customers for r in pop if r.kind == "transition"}
    assert moves[("purchase_frequency", "high_frequency", "medium_frequency")] == 2
    assert moves[("purchase_frequency", "high_frequency", "high_frequency")] == 1
    assert moves[("purchase_value", "high_value", "high_value")] == 3
    got = {r.axis: r.value for r in pop if r.kind == "psi"}
    # By hand: mean memberships now (0.4333, 0.4933, 0.0733), then (0.9, 0.08, 0.02).
    p_now = [(0.2 + 0.9 + 0.2) / 3, (0.7 + 0.08 + 0.7) / 3, (0.1 + 0.02 + 0.1) / 3]
    p_then = [0.9, 0.08, 0.02]
    expected = sum((a - b) * math.log(a / b) for a, b in zip(p_now, p_then, strict=True))
    assert got["purchase_frequency"] == pytest.approx(expected, rel=1e-9)
    assert got["purchase_value"] == pytest.approx(0.0, abs=1e-12)
    d = customer_drift(
        cur,
        base,
        days=7,
        baseline_date="b",
        segments=SEGMENTS,
        archetype_axes=["purchase_frequency"],
        rules=DriftRules(),
    )
    flows = [(r.from_segment, r.to_segment, r.customers) for r in flows_by_baseline(d, 10).collect()]
    assert flows == [("A", "B", 2)]


def test_several_baselines_in_one_plan(spark: SparkSession) -> None:
    # The seed's 14-day example next to a 7-day baseline equal to today: one row per customer and baseline,
    # each with its own days and velocity; transitions counted per baseline.
    now = [profile("C", [0.786, 0.175, 0.039], [0.9, 0.1], "B"), profile("D", [0.9, 0.05, 0.05], [0.9, 0.1], "A")]
    then14 = [profile("C", [0.920, 0.065, 0.015], [0.9, 0.1], "A"), profile("D", [0.9, 0.05, 0.05], [0.9, 0.1], "A")]
    then7 = [profile("C", [0.786, 0.175, 0.039], [0.9, 0.1], "B")]
    bases = tag_baseline(frame(spark, then14), "b14", 14).unionByName(tag_baseline(frame(spark, then7), "b7", 7))
    rows = baselines_drift(
        frame(spark, now), bases, segments=SEGMENTS, archetype_axes=["purchase_frequency"], rules=DriftRules()
    ).collect()
    got = {(r.customer_id, r.baseline_date): r for r in rows}
    assert sorted(got) == [("C", "b14"), ("C", "b7"), ("D", "b14")]
    c14, c7 = got[("C", "b14")], got[("C", "b7")]
    assert (c14.days_elapsed, c7.days_elapsed) == (14, 7)
    assert (
        round(c14.velocity["purchase_frequency"], 4) == 0.0125 and c14.alert["purchase_frequency"] == "MODERATE_DRIFT"
    )
    assert c7.velocity["purchase_frequency"] == 0.0 and c7.overall_alert == "STABLE" and not c7.migrated
    assert c14.change_per_day["purchase_frequency"]["high_frequency"] == pytest.approx(-0.134 / 14)
    assert c14.migrated and (c14.from_archetype, c14.to_archetype) == ("A", "B")
    moves = {
        (r.baseline_date, r.days_elapsed, r.axis, r.from_segment, r.to_segment): r.customers
        for r in transitions(frame(spark, now), bases, ["purchase_frequency"]).collect()
    }
    assert moves == {
        ("b14", 14, "purchase_frequency", "high_frequency", "high_frequency"): 2,
        ("b7", 7, "purchase_frequency", "high_frequency", "high_frequency"): 1,
    }
