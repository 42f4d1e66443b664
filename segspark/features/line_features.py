"""Features of money and units across purchase and return lines: value, returns, discounts."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segspark.features.basis import MONTH_DAYS, Basis, days_between, is_purchase, lifetime_value
from segspark.features.order_features import safe_ratio
from segspark.features.registry import block_columns

PRODUCES = block_columns("lines")


def line_features(basis: Basis) -> DataFrame:
    """Per customer with at least one order: the line-level features of PRODUCES."""
    purchase = is_purchase()
    returned = F.col("is_return")
    discount = F.coalesce(F.col("discount_amount"), F.lit(0.0))
    amount = F.col("line_amount")
    per_customer = basis.lines.groupBy("customer_id").agg(
        F.sum(F.when(purchase, amount)).alias("bought_value"),
        F.sum(F.when(returned, amount)).alias("returned_value"),
        F.sum(F.when(purchase, F.col("quantity"))).alias("bought_units"),
        F.sum(F.when(returned, F.abs(F.col("quantity")))).alias("returned_units"),
        F.sum(F.when(purchase, discount)).alias("discount_sum"),
        F.count_if(purchase).alias("purchase_lines"),
        F.count_if(purchase & (discount == 0)).alias("full_price_lines"),
        F.sum(F.when(purchase & (discount > 0), amount)).alias("discounted_value"),
        F.count_distinct(F.when(returned, F.col("order_id"))).alias("return_orders"),
    )
    stats = basis.orders.groupBy("customer_id").agg(F.count(F.lit(1)).alias("n"), F.min("order_time").alias("first"))
    tenure_months = days_between(basis.as_of_ts, F.col("first")) / MONTH_DAYS
    bought = F.coalesce(F.col("bought_value"), F.lit(0.0))
    returned_abs = F.abs(F.coalesce(F.col("returned_value"), F.lit(0.0)))
    returned_units = F.coalesce(F.col("returned_units"), F.lit(0.0))
    return stats.join(per_customer, "customer_id", how="left").select(
        "customer_id",
        lifetime_value(F.col("bought_value"), F.col("returned_value")).alias("purchase_value__lifetime_value"),
        safe_ratio(F.col("discount_sum"), bought + F.col("discount_sum")).alias("price_sensitivity__avg_discount_pct"),
        (F.col("full_price_lines") / F.col("purchase_lines")).alias("price_sensitivity__full_price_ratio"),
        safe_ratio(returned_units, F.col("bought_units")).alias("return_behavior__return_rate"),
        safe_ratio(returned_abs, bought).alias("return_behavior__return_value_ratio"),
        (F.col("return_orders") / F.col("n")).alias("problem_complexity__refund_rate"),
        (F.col("return_orders") / F.greatest(tenure_months, F.lit(1.0))).alias("problem_complexity__return_frequency"),
        safe_ratio(F.coalesce(F.col("discounted_value"), F.lit(0.0)), bought).alias(
            "problem_complexity__discount_dependency"
        ),
    )
