"""Features of what customers buy: products, categories, price positions."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segspark.features import windows as W
from segspark.features.basis import Basis
from segspark.features.ladder import ladder_percentile, percent_rank, price_ladder
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

    The lines, with their product's median price, are shuffled once by customer:
    every window and aggregate below is keyed by the customer first, so none of
    them moves the lines again. One (customer, product) window gives each line the
    first order index its product appears in (bought in two orders or more <=>
    last > first, a repeat line <=> idx > first); a (customer, product) aggregate
    and a (customer, order) aggregate then sum them per customer.
    """
    lines = basis.purchases.filter(F.col("product_id").isNotNull())
    median_price = ladder_percentile(price_ladder(lines, "product_id"), "product_id", 0.5, "median_price")
    later_half = F.col("idx") >= F.col("n") - F.floor(F.col("n") / 2)
    by_customer = (
        lines.join(median_price, "product_id", how="left")
        .repartition(W.CUSTOMER)
        .withColumn("first_idx", F.min("idx").over(W.whole_customer_key("product_id")))
    )
    pairs = by_customer.groupBy("customer_id", "product_id").agg(
        F.sum("line_amount").alias("p_spend"),
        F.min("idx").alias("first_idx"),
        F.max("idx").alias("last_idx"),
        F.max(later_half).alias("in_later"),
        F.max(~later_half).alias("in_earlier"),
    )
    per_pairs = (
        pairs.withColumn("total", F.sum("p_spend").over(W.whole_customer()))
        .groupBy("customer_id")
        .agg(
            F.sum(F.when(F.col("total") > 0, (F.col("p_spend") / F.col("total")) ** 2)).alias("hhi"),
            F.max("total").alias("total"),
            F.avg((F.col("last_idx") > F.col("first_idx")).cast("double")).alias("repeat_products"),
            F.count(F.lit(1)).alias("products"),
            F.count_if(F.col("in_later")).alias("later_products"),
            F.count_if(F.col("in_earlier")).alias("earlier_products"),
        )
    )
    repeat = F.col("idx") > F.col("first_idx")
    cheap = F.when(F.col("unit_price") < F.col("median_price"), F.col("line_amount")).otherwise(0.0)
    # A product's median exists when one of its lines has a price (canonical lines always do); the
    # per-order rates, like the discount-hunt score, only count lines that can be compared with it.
    per_orders = (
        by_customer.filter(F.col("median_price").isNotNull())
        .groupBy("customer_id", "order_id", "n")
        .agg(
            F.max(repeat).alias("has_repeat"),
            F.count(F.lit(1)).alias("k"),
            F.count_if(repeat).alias("repeat_lines"),
            F.sum("line_amount").alias("spend"),
            F.sum(cheap).alias("cheap"),
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
    ladder = price_ladder(lines, "price_group").withColumn("pct_rank", percent_rank())
    p90 = ladder_percentile(ladder, "price_group", 0.9, "p90")
    ranked = lines.join(ladder.select("price_group", "unit_price", "pct_rank"), ["price_group", "unit_price"], "inner")
    ranked = ranked.join(F.broadcast(p90), "price_group", how="inner")
    return ranked.groupBy("customer_id").agg(
        F.avg("pct_rank").alias("value_sophistication__price_point_comfort"),
        F.avg((F.col("unit_price") >= F.col("p90")).cast("double")).alias("value_sophistication__luxury_rate"),
    )
