"""Communication preference from the channel of each contact (orders; tickets when supported)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segspark.features.basis import Basis
from segspark.features.order_features import hour_angle

PRODUCES = (
    "communication_preference__primary_channel_share",
    "communication_preference__channel_diversity",
    "communication_preference__contact_hour_sin",
    "communication_preference__contact_hour_cos",
)


def channel_features(basis: Basis) -> DataFrame:
    """Per customer with at least one order carrying a channel: the features of PRODUCES."""
    contacts = basis.orders.filter(F.col("order_channel").isNotNull())
    per_channel = contacts.groupBy("customer_id", "order_channel").agg(F.count(F.lit(1)).alias("k"))
    shares = per_channel.groupBy("customer_id").agg(
        (F.max("k") / F.sum("k")).alias("communication_preference__primary_channel_share"),
        F.count(F.lit(1)).cast("double").alias("communication_preference__channel_diversity"),
    )
    angle = hour_angle(F.col("local_time"))
    # The circular mean hour: the direction of the mean of the hour vectors.
    mean_angle = F.atan2(F.avg(F.sin(angle)), F.avg(F.cos(angle)))
    hours = contacts.groupBy("customer_id").agg(mean_angle.alias("a"))
    return shares.join(hours, "customer_id", how="inner").select(
        "customer_id",
        "communication_preference__primary_channel_share",
        "communication_preference__channel_diversity",
        F.sin("a").alias("communication_preference__contact_hour_sin"),
        F.cos("a").alias("communication_preference__contact_hour_cos"),
    )
