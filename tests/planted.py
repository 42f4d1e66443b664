"""Planted Gaussian groups in feature space, generated inside Spark (hash-based, deterministic)."""

from __future__ import annotations

import math

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segspark.features.axes import AxisSpec, Transform
from segspark.generate import uniform

AXIS = AxisSpec(
    name="purchase_frequency",
    enabled=True,
    marketing=True,
    needs=("orders",),
    primary="orders_per_month",
    features={f: Transform("none") for f in ("orders_per_month", "avg_days_between_orders", "recent_orders_90d")},
)
COLUMNS = [AXIS.column(f) for f in AXIS.features]
# Six well separated centres; group g uses the first k of them.
CENTRES = [(0, 0, 0), (5, 5, 5), (10, 0, 10), (15, 5, 0), (20, 0, 5), (25, 5, 10)]


def planted(spark: SparkSession, k: int, per_group: int = 60, seed: int = 1, noise: float = 0.6) -> DataFrame:
    """customer_id, the three feature columns and the planted `group`."""
    ids = spark.range(k * per_group).withColumn("group", (F.col("id") % k).cast("int"))
    cols = []
    for j, name in enumerate(COLUMNS):
        centre = F.element_at(F.array(*[F.lit(float(c[j])) for c in CENTRES]), F.col("group") + 1)
        u1 = F.greatest(uniform(seed, f"a{j}", F.col("id")), F.lit(1e-12))
        u2 = uniform(seed, f"b{j}", F.col("id"))
        gauss = F.sqrt(-2 * F.log(u1)) * F.cos(F.lit(2 * math.pi) * u2)  # Box-Muller
        cols.append((centre + F.lit(noise) * gauss).alias(name))
    return ids.select(F.format_string("K%05d", "id").alias("customer_id"), *cols, "group")
