"""Features of a customer's order sequence: frequency, value, cadence, maturity, trajectory."""

from __future__ import annotations

import math

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segspark.features.basis import MONTH_DAYS, Basis, days_between
from segspark.features.registry import block_columns

PRODUCES = block_columns("orders")


def hour_angle(local_ts: Column) -> Column:
    """The time of day as an angle: 2*pi*h/24 with h in fractional hours."""
    hours = F.hour(local_ts) + F.minute(local_ts) / 60.0 + F.second(local_ts) / 3600.0
    return hours * F.lit(2 * math.pi / 24)


def month_index(ts: Column) -> Column:
    """Months since year 0 of a (local) timestamp or date: consecutive months differ by 1."""
    return F.year(ts) * 12 + F.month(ts)


def safe_ratio(num: Column, den: Column) -> Column:
    """num / den, null when den is 0 or null (ANSI mode would raise)."""
    return F.when(den != 0, num / den)


def order_features(basis: Basis) -> DataFrame:
    """Per customer: the order-sequence features of PRODUCES."""
    o = basis.orders
    local = F.col("local_time")
    angle = hour_angle(local)
    months_from_first = days_between(F.col("order_time"), F.col("first_time")) / MONTH_DAYS
    is_last3_gap = (F.col("idx") >= F.col("n") - 3) & (F.col("idx") >= 1)
    agg = o.groupBy("customer_id").agg(
        F.count(F.lit(1)).alias("n"),
        F.min("order_time").alias("first"),
        F.max("order_time").alias("last"),
        F.avg("gap_days").alias("mean_gap"),
        F.stddev_pop("gap_days").alias("std_gap"),
        F.avg(F.when(is_last3_gap, F.col("gap_days"))).alias("mean_last3_gap"),
        F.count_if(F.col("order_time") >= basis.days_before(90)).alias("recent90"),
        F.count_if(
            (F.col("order_time") >= basis.days_before(180)) & (F.col("order_time") < basis.days_before(90))
        ).alias("previous90"),
        F.sum("order_value").alias("value_sum"),
        F.covar_pop(months_from_first, F.col("order_value")).alias("cov_tv"),
        F.var_pop(months_from_first).alias("var_t"),
        F.avg(F.col("has_discount").cast("double")).alias("discount_orders"),
        F.avg(F.dayofweek(local).isin(1, 7).cast("double")).alias("weekend"),
        F.avg(F.cos(angle)).alias("mean_cos"),
        F.avg(F.sin(angle)).alias("mean_sin"),
        F.count_distinct(month_index(local)).alias("active_months"),
        F.min(month_index(local)).alias("first_month"),
    )
    n = F.col("n")
    tenure_days = days_between(basis.as_of_ts, F.col("first"))
    tenure_months = tenure_days / MONTH_DAYS
    days_since = days_between(basis.as_of_ts, F.col("last"))
    mean_gap = F.col("mean_gap")
    last_month = month_index(F.date_sub(F.lit(basis.as_of), 1))  # the month before as_of
    consistency = F.when(n < 3, None).when(mean_gap == 0, 1.0).otherwise(1.0 / (1.0 + F.col("std_gap") / mean_gap))
    return agg.select(
        "customer_id",
        (n / F.greatest(tenure_months, F.lit(1.0))).alias("purchase_frequency__orders_per_month"),
        mean_gap.alias("purchase_frequency__avg_days_between_orders"),
        F.col("recent90").cast("double").alias("purchase_frequency__recent_orders_90d"),
        consistency.alias("purchase_frequency__purchase_consistency"),
        (F.col("value_sum") / n).alias("purchase_value__avg_order_value"),
        F.when(n >= 2, safe_ratio(F.col("cov_tv"), F.col("var_t"))).alias("purchase_value__value_trend"),
        F.col("discount_orders").alias("price_sensitivity__discount_usage_rate"),
        F.col("weekend").alias("purchase_cadence__weekend_ratio"),
        F.sqrt(F.col("mean_cos") ** 2 + F.col("mean_sin") ** 2).alias("purchase_cadence__time_of_day_consistency"),
        tenure_months.alias("customer_maturity__tenure_months"),
        days_since.alias("customer_maturity__days_since_last_order"),
        (F.col("active_months") / (last_month - F.col("first_month") + 1)).alias("repurchase_behavior__loyalty_index"),
        F.ln((1.0 + F.col("recent90")) / (1.0 + F.col("previous90"))).alias(
            "loyalty_trajectory__order_frequency_trend"
        ),
        F.when(n >= 2, safe_ratio(days_since, mean_gap)).alias("loyalty_trajectory__recency_ratio"),
        F.when(n >= 4, safe_ratio(F.col("mean_last3_gap"), mean_gap)).alias("loyalty_trajectory__acceleration"),
    )


def seasonal_concentration(basis: Basis) -> DataFrame:
    """Per customer: sum over calendar months of (share of orders in the month)^2."""
    per_month = basis.orders.groupBy("customer_id", F.month("local_time").alias("m")).agg(F.count(F.lit(1)).alias("k"))
    return per_month.groupBy("customer_id").agg(
        (F.sum(F.col("k") * F.col("k")) / (F.sum("k") * F.sum("k"))).alias("purchase_cadence__seasonal_concentration")
    )
