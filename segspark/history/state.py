"""customer_state: per customer, the latest snapshot's risk and movement in one row (SPEC section 7).

A CRM export reads `customer_state/snapshot_date=D/` (the newest committed D)
without joining drift rows. The short-term baselines of D's drift summarise it:

| column | meaning |
|---|---|
| churn_risk | the most severe churn risk against the 7- and 28-day baselines (HIGH > MEDIUM > LOW) |
| overall_alert | the most severe overall alert against the same baselines |
| velocity_7d, velocity_28d | axis -> velocity per day against the baseline serving 7 / 28 days |
| baseline_7d, baseline_28d | the snapshot dates used for them (within the drift tolerance) |
| migrated | the archetype changed against either baseline |
| declining_accelerating | some segment's membership declines and accelerates (the trend) |
| declining_segments | those segments' ids |

Customers with a profile but no baseline (new customers) have nulls there.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segspark.history.drift import HIGH, LEVELS, LOW, MEDIUM

STATE_OFFSETS = (7, 28)
RISKS = (LOW, MEDIUM, HIGH)  # in order of severity


def _most_severe(values: Column, order: Sequence[str]) -> Column:
    """The most severe of an array of labels (null when the array holds none)."""
    ranks = F.transform(values, lambda v: F.array_position(F.array(*map(F.lit, order)), v))
    top = F.array_max(F.filter(ranks, lambda r: r > 0))
    # Guarded: a customer without short-term baselines has no labels, and so no severity.
    return F.when(top.isNotNull(), F.element_at(F.array(*map(F.lit, order)), top.cast("int")))


def customer_state(profiles: DataFrame, drift: DataFrame | None) -> DataFrame:
    """One row per customer of the `profiles` snapshot, from the drift rows of the same date (None: no
    baseline existed, so every drift column is null)."""
    if drift is None:
        velocity = "map<string,double>"
        drift = profiles.sparkSession.createDataFrame(
            [],
            f"customer_id string, baseline_offset int, baseline_date string, velocity {velocity}, "
            "churn_risk string, overall_alert string, migrated boolean, "
            "trend map<string,map<string,struct<short:double,long:double,acceleration:double,"
            "declining_accelerating:boolean>>>",
        )
    short = drift.filter(F.col("baseline_offset").isin(list(STATE_OFFSETS)))
    declining = F.flatten(
        F.transform(
            F.map_values("trend"), lambda m: F.map_keys(F.map_filter(m, lambda _, t: t["declining_accelerating"]))
        )
    )
    per_customer = short.groupBy("customer_id").agg(
        *[
            part
            for o in STATE_OFFSETS
            for part in (
                F.first(F.when(F.col("baseline_offset") == o, F.col("velocity")), ignorenulls=True).alias(
                    f"velocity_{o}d"
                ),
                F.first(F.when(F.col("baseline_offset") == o, F.col("baseline_date")), ignorenulls=True).alias(
                    f"baseline_{o}d"
                ),
            )
        ],
        F.collect_list("churn_risk").alias("_risks"),
        F.collect_list("overall_alert").alias("_alerts"),
        F.max(F.col("migrated").cast("int")).alias("_migrated"),
    )
    trends = drift.groupBy("customer_id").agg(F.first(declining, ignorenulls=True).alias("declining_segments"))
    return (
        profiles.select("customer_id", "model_version", "archetype_id", "lifetime_value", "total_orders")
        .join(per_customer, "customer_id", how="left")
        .join(trends, "customer_id", how="left")
        .select(
            "customer_id",
            "model_version",
            "archetype_id",
            _most_severe(F.col("_risks"), RISKS).alias("churn_risk"),
            _most_severe(F.col("_alerts"), LEVELS).alias("overall_alert"),
            *[F.col(f"velocity_{o}d") for o in STATE_OFFSETS],
            *[F.col(f"baseline_{o}d") for o in STATE_OFFSETS],
            (F.col("_migrated") == 1).alias("migrated"),
            (F.size(F.coalesce("declining_segments", F.array())) > 0).alias("declining_accelerating"),
            F.coalesce("declining_segments", F.array().cast("array<string>")).alias("declining_segments"),
            "lifetime_value",
            "total_orders",
        )
    )
