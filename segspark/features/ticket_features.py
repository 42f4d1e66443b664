"""Support history from the tickets a customer opened before as_of (SPEC Appendix A, axis 14)."""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segspark.features.basis import Basis, local_time, ts_literal
from segspark.features.registry import block_columns

PRODUCES = block_columns("support")


def cut_tickets(tickets: DataFrame, as_of: date, zone: str) -> DataFrame:
    """Tickets created before as_of, with their wall-clock time in the business zone."""
    return tickets.filter(F.col("created_ts") < ts_literal(as_of)).withColumn(
        "local_time", local_time(F.col("created_ts"), zone)
    )


def support_features(basis: Basis) -> DataFrame:
    """Per customer with an order: tickets per order (0 without tickets), mean satisfaction over rated tickets
    and the escalated share (null without a rated ticket, or without a ticket)."""
    assert basis.tickets is not None
    per_customer = basis.tickets.groupBy("customer_id").agg(
        F.count(F.lit(1)).alias("tickets"),
        F.avg("satisfaction").alias("satisfaction_avg"),
        F.count_if(F.coalesce(F.col("escalated"), F.lit(False))).alias("escalated"),
    )
    orders = basis.orders.groupBy("customer_id").agg(F.count(F.lit(1)).alias("n"))
    joined = orders.join(per_customer, "customer_id", how="left")
    tickets = F.coalesce(F.col("tickets"), F.lit(0))
    return joined.select(
        "customer_id",
        (tickets / F.col("n")).alias("support_history__tickets_per_order"),
        F.col("satisfaction_avg").alias("support_history__satisfaction_avg"),
        F.when(tickets > 0, F.col("escalated") / tickets).alias("support_history__escalation_rate"),
    )
