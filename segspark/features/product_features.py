"""Features of what customers buy: products, categories, price positions."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segspark.features import windows as W
from segspark.features.basis import Basis
from segspark.features.order_features import safe_ratio

PRODUCT_PRODUCES = (
    "customer_maturity__expansion_rate",
    "repurchase_behavior__repeat_purchase_rate",
    "repurchase_behavior__same_product_rate",
    "product_knowledge__product_concentration",
    "product_knowledge__repeat_product_rate",
    "product_knowledge__expertise_level",
    "value_sophistication__discount_hunt_score",
)
CATEGORY_PRODUCES = (
    "category_exploration__unique_categories",
    "category_exploration__category_switches",
    "category_exploration__new_category_rate",
)
PRICE_PRODUCES = ("value_sophistication__price_point_comfort", "value_sophistication__luxury_rate")


def product_features(basis: Basis) -> DataFrame:
    """Per customer: the product features of PRODUCT_PRODUCES (lines without a product are ignored).

    Built from one (customer, product, order) aggregate instead of distinct
    counts over lines, which Spark would evaluate by copying every line once
    per distinct count.
    """
    lines = basis.purchases.filter(F.col("product_id").isNotNull())
    median_price = lines.groupBy("product_id").agg(F.median("unit_price").alias("median_price"))
    later_half = F.col("idx") >= F.col("n") - F.floor(F.col("n") / 2)
    cpo = (
        lines.join(median_price, "product_id", how="inner")
        .groupBy("customer_id", "product_id", "order_id", "idx", "n")
        .agg(
            F.count(F.lit(1)).alias("k"),
            F.sum("line_amount").alias("spend"),
            F.sum(F.when(F.col("unit_price") < F.col("median_price"), F.col("line_amount")).otherwise(0.0)).alias(
                "cheap"
            ),
        )
        .withColumn("later", later_half)
        .withColumn("first_idx", F.min("idx").over(W.whole_customer_key("product_id")))
        .withColumn("repeat", F.col("idx") > F.col("first_idx"))
    )
    pairs = cpo.groupBy("customer_id", "product_id").agg(
        F.sum("spend").alias("p_spend"),
        F.count(F.lit(1)).alias("p_orders"),
        F.max("later").alias("in_later"),
        F.max(~F.col("later")).alias("in_earlier"),
    )
    per_pairs = (
        pairs.withColumn("total", F.sum("p_spend").over(W.whole_customer()))
        .groupBy("customer_id")
        .agg(
            F.sum(F.when(F.col("total") > 0, (F.col("p_spend") / F.col("total")) ** 2)).alias("hhi"),
            F.max("total").alias("total"),
            F.avg((F.col("p_orders") >= 2).cast("double")).alias("repeat_products"),
            F.count(F.lit(1)).alias("products"),
            F.count_if(F.col("in_later")).alias("later_products"),
            F.count_if(F.col("in_earlier")).alias("earlier_products"),
        )
    )
    per_orders = (
        cpo.groupBy("customer_id", "order_id", "n")
        .agg(
            F.max("repeat").alias("has_repeat"),
            F.sum("k").alias("k"),
            F.sum(F.when(F.col("repeat"), F.col("k")).otherwise(0)).alias("repeat_lines"),
            F.sum("spend").alias("spend"),
            F.sum("cheap").alias("cheap"),
        )
        .groupBy("customer_id")
        .agg(
            F.first("n").alias("n"),
            F.count_if(F.col("has_repeat")).alias("repeat_orders"),
            (F.sum("repeat_lines") / F.sum("k")).alias("same_product_rate"),
            F.sum("spend").alias("spend"),
            F.sum("cheap").alias("cheap"),
        )
    )
    n = F.col("n")
    return per_orders.join(per_pairs, "customer_id", how="inner").select(
        "customer_id",
        F.when(n >= 2, F.col("later_products") / F.greatest(F.col("earlier_products"), F.lit(1))).alias(
            "customer_maturity__expansion_rate"
        ),
        F.when(n >= 2, F.col("repeat_orders") / (n - 1)).alias("repurchase_behavior__repeat_purchase_rate"),
        F.col("same_product_rate").alias("repurchase_behavior__same_product_rate"),
        F.when(F.col("total") > 0, F.col("hhi")).alias("product_knowledge__product_concentration"),
        F.col("repeat_products").alias("product_knowledge__repeat_product_rate"),
        F.col("products").cast("double").alias("product_knowledge__expertise_level"),
        safe_ratio(F.col("cheap"), F.col("spend")).alias("value_sophistication__discount_hunt_score"),
    )


def category_features(basis: Basis) -> DataFrame:
    """Per customer: the category features of CATEGORY_PRODUCES (uncategorised lines are ignored)."""
    lines = basis.purchases.filter(F.col("category").isNotNull())
    per_order_cat = lines.groupBy("customer_id", "order_id", "idx", "n", "category").agg(
        F.sum("line_amount").alias("category_value")
    )
    main = (
        per_order_cat.withColumn("r", F.row_number().over(W.main_category_rank()))
        .filter(F.col("r") == 1)
        .select("customer_id", "order_id", "idx", F.col("category").alias("main_category"))
    )
    # Consecutive orders of the customer (all orders, so an uncategorised order breaks no pair rule).
    seq = basis.orders.select("customer_id", "order_id", "order_time", "idx", "n").join(
        main, ["customer_id", "order_id", "idx"], how="left"
    )
    switches = (
        seq.withColumn("prev", F.lag("main_category").over(W.order_sequence()))
        .groupBy("customer_id")
        .agg(
            F.first("n").alias("n"),
            F.count_if((F.col("idx") >= 1) & ~F.col("main_category").eqNullSafe(F.col("prev"))).alias("switches"),
        )
    )
    firsts = per_order_cat.withColumn("first_idx", F.min("idx").over(W.whole_customer_key("category")))
    novel = firsts.groupBy("customer_id").agg(
        F.count_distinct("category").alias("categories"),
        F.count_distinct(F.when((F.col("idx") == F.col("first_idx")) & (F.col("idx") >= 1), F.col("order_id"))).alias(
            "novel_orders"
        ),
    )
    n = F.col("n")
    return switches.join(novel, "customer_id", how="inner").select(
        "customer_id",
        F.col("categories").cast("double").alias("category_exploration__unique_categories"),
        F.when(n >= 2, F.col("switches") / (n - 1)).alias("category_exploration__category_switches"),
        F.when(n >= 2, F.col("novel_orders") / (n - 1)).alias("category_exploration__new_category_rate"),
    )


def price_features(basis: Basis, *, by_category: bool) -> DataFrame:
    """Per customer: unit-price percentile rank and luxury share, within category when asked.

    Percentile ranks are exact without sorting every line: ranks come from the
    distinct prices of each price group with their line counts. Without categories
    there is one group, and Spark warns that the ladder window has no partition: it
    runs over the distinct prices only (thousands of rows, not lines), so that is fine.
    """
    group = F.coalesce(F.col("category"), F.lit("")) if by_category else F.lit("")
    lines = basis.purchases.withColumn("price_group", group)
    ladder = (
        lines.groupBy("price_group", "unit_price")
        .agg(F.count(F.lit(1)).alias("k"))
        .withColumn("below", F.coalesce(F.sum("k").over(W.price_ladder()), F.lit(0)))
        .withColumn("group_n", F.sum("k").over(W.whole_group("price_group")))
        # percent_rank: share of the other lines that are strictly cheaper.
        .withColumn("pct_rank", F.when(F.col("group_n") > 1, F.col("below") / (F.col("group_n") - 1)).otherwise(0.0))
    )
    p90 = lines.groupBy("price_group").agg(F.percentile(F.col("unit_price"), 0.9).alias("p90"))
    ranked = lines.join(ladder.select("price_group", "unit_price", "pct_rank"), ["price_group", "unit_price"], "inner")
    ranked = ranked.join(F.broadcast(p90), "price_group", how="inner")
    return ranked.groupBy("customer_id").agg(
        F.avg("pct_rank").alias("value_sophistication__price_point_comfort"),
        F.avg((F.col("unit_price") >= F.col("p90")).cast("double")).alias("value_sophistication__luxury_rate"),
    )
