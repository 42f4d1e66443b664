"""Business metrics carried on every profile: lifetime value and order count as of a date.

They are not clustering features (an axis can be switched off; these cannot),
so they are computed here from the same lines the features use.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segspark.features.basis import is_purchase, lifetime_value, ts_literal


def business_metrics(orders_table: DataFrame, *, as_of: date) -> DataFrame:
    """customer_id, lifetime_value (purchases minus returns), total_orders (orders with a purchase line)."""
    lines = orders_table.filter(F.col("order_ts") < ts_literal(as_of))
    purchase = is_purchase()
    return lines.groupBy("customer_id").agg(
        lifetime_value(
            F.sum(F.when(purchase, F.col("line_amount"))), F.sum(F.when(F.col("is_return"), F.col("line_amount")))
        ).alias("lifetime_value"),
        F.count_distinct(F.when(purchase, F.col("order_id"))).cast("long").alias("total_orders"),
    )
