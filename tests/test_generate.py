"""Synthetic data: planted groups, deterministic whatever the partitioning."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from segspark.generate import GenerateSpec, generate


def test_groups_differ_as_planted(spark: SparkSession) -> None:
    lines, truth = generate(spark, GenerateSpec(customers=400, lines=12_000, groups=3, seed=7))
    assert truth.count() == 400
    assert {r.group: r["count"] for r in truth.groupBy("group").count().collect()} == {0: 134, 1: 133, 2: 133}
    stats = {
        r.group: r
        for r in lines.join(truth, "customer_id", how="inner")
        .groupBy("group")
        .agg(
            F.countDistinct("order_id").alias("orders"),
            F.avg("unit_price").alias("price"),
            F.avg((F.col("quantity") < 0).cast("double")).alias("return_share"),
        )
        .collect()
    }
    # Each group orders more often, pays more per unit and returns more than the previous one.
    assert stats[0].orders < stats[1].orders < stats[2].orders
    assert stats[0].price < stats[1].price < stats[2].price
    assert stats[0].return_share < stats[1].return_share < stats[2].return_share
    total = lines.filter(F.col("quantity") > 0).count()
    assert 0.8 * 12_000 < total < 1.2 * 12_000


def test_same_seed_same_rows_any_partitioning(spark: SparkSession) -> None:
    spec = GenerateSpec(customers=300, lines=3_000, groups=2, seed=3)
    a, _ = generate(spark, spec)
    spark.conf.set("spark.sql.shuffle.partitions", "7")
    try:
        b, _ = generate(spark, spec)
        b = b.repartition(5)
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", "2")
    assert a.exceptAll(b).count() == 0 and b.exceptAll(a).count() == 0
    c, _ = generate(spark, GenerateSpec(customers=300, lines=3_000, groups=2, seed=4))
    assert a.exceptAll(c).count() > 0
