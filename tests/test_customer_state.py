"""customer_state: one row per customer summarising the short-term baselines of a snapshot's drift."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from segspark.history.state import customer_state

PROFILES = "customer_id string, model_version string, archetype_id string, lifetime_value double, total_orders long"
TREND = "map<string,map<string,struct<short:double,long:double,acceleration:double,declining_accelerating:boolean>>>"
DRIFT = (
    "customer_id string, baseline_offset int, baseline_date string, velocity map<string,double>, "
    f"churn_risk string, overall_alert string, migrated boolean, trend {TREND}"
)
STATE = (
    "customer_id string, model_version string, archetype_id string, churn_risk string, overall_alert string, "
    "velocity_7d map<string,double>, velocity_28d map<string,double>, baseline_7d string, baseline_28d string, "
    "migrated boolean, declining_accelerating boolean, declining_segments array<string>, lifetime_value double, "
    "total_orders long"
)


def test_state_takes_the_worst_of_the_7_and_28_day_baselines(spark: SparkSession) -> None:
    profiles = spark.createDataFrame(
        [("C1", "m1", "a1", 120.0, 4), ("C2", "m1", "a2", 10.0, 1), ("C3", "m1", "a1", 50.0, 2)], PROFILES
    )
    falling = {"freq": {"freq/s1": (-0.1, 0.0, -0.1, True), "freq/s2": (0.1, 0.0, 0.1, False)}}
    drift = spark.createDataFrame(
        [
            ("C1", 7, "2024-02-23", {"freq": 0.001}, "LOW", "STABLE", False, falling),
            ("C1", 28, "2024-02-02", {"freq": 0.02}, "HIGH", "RAPID_DRIFT", True, falling),
            ("C1", 90, "2023-12-02", {"freq": 0.5}, "MEDIUM", "RAPID_DRIFT", True, falling),
            # C3 has only a long-term baseline: nothing short-term to summarise.
            ("C3", 90, "2023-12-02", {"freq": 0.0}, "LOW", "STABLE", False, {}),
        ],
        DRIFT,
    )
    got = customer_state(profiles, drift).orderBy("customer_id")
    expected = spark.createDataFrame(
        [
            (
                *("C1", "m1", "a1", "HIGH", "RAPID_DRIFT", {"freq": 0.001}, {"freq": 0.02}),
                *("2024-02-23", "2024-02-02", True, True, ["freq/s1"], 120.0, 4),
            ),
            ("C2", "m1", "a2", None, None, None, None, None, None, None, False, [], 10.0, 1),
            ("C3", "m1", "a1", None, None, None, None, None, None, None, False, [], 50.0, 2),
        ],
        STATE,
    )
    assert_df_equality(got, expected, ignore_nullable=True)


def test_state_without_drift_has_null_drift_columns(spark: SparkSession) -> None:
    profiles = spark.createDataFrame([("C1", "m1", "a1", 120.0, 4)], PROFILES)
    got = customer_state(profiles, None)
    expected = spark.createDataFrame(
        [("C1", "m1", "a1", None, None, None, None, None, None, None, False, [], 120.0, 4)], STATE
    )
    assert_df_equality(got, expected, ignore_nullable=True)
