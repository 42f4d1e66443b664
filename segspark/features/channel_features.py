"""Communication preference from the channel of each contact: a customer's tickets when they have any with a
channel, else their orders (SPEC Appendix A)."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from segspark.features.basis import Basis
from segspark.features.order_features import hour_angle
from segspark.features.registry import block_columns

PRODUCES = block_columns("channels")


def contacts(basis: Basis) -> DataFrame:
    """customer_id, channel and local_time of every contact: tickets for a customer with a ticket channel,
    else orders."""
    orders = basis.orders.filter(F.col("order_channel").isNotNull()).select(
        "customer_id", F.col("order_channel").alias("channel"), "local_time", F.lit(1).alias("src")
    )
    if basis.tickets is None:
        return orders
    tickets = basis.tickets.filter(F.col("channel").isNotNull()).select(
        "customer_id", "channel", "local_time", F.lit(0).alias("src")
    )
    best = F.min("src").over(Window.partitionBy("customer_id"))
    return orders.unionByName(tickets).withColumn("best", best).filter(F.col("src") == F.col("best"))


def channel_features(basis: Basis) -> DataFrame:
    """Per customer with at least one contact carrying a channel: the features of PRODUCES."""
    touches = contacts(basis)
    per_channel = touches.groupBy("customer_id", "channel").agg(F.count(F.lit(1)).alias("k"))
    shares = per_channel.groupBy("customer_id").agg(
        (F.max("k") / F.sum("k")).alias("communication_preference__primary_channel_share"),
        F.count(F.lit(1)).cast("double").alias("communication_preference__channel_diversity"),
    )
    angle = hour_angle(F.col("local_time"))
    # The circular mean hour: the direction of the mean of the hour vectors.
    mean_angle = F.atan2(F.avg(F.sin(angle)), F.avg(F.cos(angle)))
    hours = touches.groupBy("customer_id").agg(mean_angle.alias("a"))
    return shares.join(hours, "customer_id", how="inner").select(
        "customer_id",
        "communication_preference__primary_channel_share",
        "communication_preference__channel_diversity",
        F.sin("a").alias("communication_preference__contact_hour_sin"),
        F.cos("a").alias("communication_preference__contact_hour_cos"),
    )
