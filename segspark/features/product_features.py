"""Features of what customers buy: products, categories, price positions."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segspark.features import windows as W
from segspark.features.basis import Basis
from segspark.features.ladder import ladder_percentile, percent_rank, price_ladder
from segspark.features.order_features import safe_ratio
from segspark.features.registry import block_columns

PRODUCT_PRODUCES = block_columns("products")
CATEGORY_PRODUCES = block_columns("categories")
PRICE_PRODUCES = block_columns("prices")


def product_features(basis: Basis) -> DataFrame:
    """Per customer: the product features of PRODUCT_PRODUCES (lines without a product are ignored).

    One frame, shuffled once by customer, feeds everything. A (customer, product)
    window gives each line its product's spend, first and last order index and
    halves (bought in two orders or more <=> last > first; a repeat line <=> idx >
    first), and marks one line per product to count the products once. A
    (customer, order) aggregate and a customer aggregate over the same partitions
    then sum them: the concentration is sum(p^2) / total^2 over the products' spends.
    """
    lines = basis.purchases.filter(F.col("product_id").isNotNull())
    median_price = ladder_percentile(price_ladder(lines, "product_id"), "product_id", 0.5, "median_price")
    later_half = F.col("idx") >= F.col("n") - F.floor(F.col("n") / 2)
    pair = W.customer_key_sequence("product_id")
    # The whole-pair aggregates share the ordered spec of row_number, so Spark evaluates all of
    # them in one Window operator over one sort (an unordered spec would add a second one).
    whole_pair = pair.rowsBetween(*W.WHOLE)
    by_customer = (
        lines.join(median_price, "product_id", how="left")
        .repartition(W.CUSTOMER)
        .select(
            "customer_id",
            "order_id",
            "n",
            "idx",
            "line_amount",
            "unit_price",
            "median_price",
            F.sum("line_amount").over(whole_pair).alias("p_spend"),
            F.min("idx").over(whole_pair).alias("first_idx"),
            F.max("idx").over(whole_pair).alias("last_idx"),
            F.max(later_half).over(whole_pair).alias("in_later"),
            F.max(~later_half).over(whole_pair).alias("in_earlier"),
            (F.row_number().over(pair) == 1).alias("first_line"),
        )
    )
    # A product's median exists when one of its lines has a price (canonical lines always do); the
    # per-order rates, like the discount-hunt score, only count lines that can be compared with it.
    priced = F.col("median_price").isNotNull()
    repeat = priced & (F.col("idx") > F.col("first_idx"))
    once = F.col("first_line")
    per_order = by_customer.groupBy("customer_id", "order_id", "n").agg(
        F.max(repeat).alias("has_repeat"),
        F.count_if(priced).alias("k"),
        F.count_if(repeat).alias("repeat_lines"),
        F.sum(F.when(priced, F.col("line_amount"))).alias("spend"),
        F.sum(F.when(priced & (F.col("unit_price") < F.col("median_price")), F.col("line_amount"))).alias("cheap"),
        F.sum(F.when(once, F.col("p_spend") * F.col("p_spend"))).alias("p_squares"),
        F.sum(F.when(once, F.col("p_spend"))).alias("total"),
        F.count_if(once).alias("products"),
        F.count_if(once & (F.col("last_idx") > F.col("first_idx"))).alias("repeat_products"),
        F.count_if(once & F.col("in_later")).alias("later_products"),
        F.count_if(once & F.col("in_earlier")).alias("earlier_products"),
    )
    sums = (
        "k",
        "repeat_lines",
        "p_squares",
        "total",
        "products",
        "repeat_products",
        "later_products",
        "earlier_products",
    )
    per_customer = (
        per_order.groupBy("customer_id")
        .agg(
            F.max("n").alias("n"),
            F.count_if(F.col("has_repeat")).alias("repeat_orders"),
            F.coalesce(F.sum("spend"), F.lit(0.0)).alias("spend"),
            F.coalesce(F.sum("cheap"), F.lit(0.0)).alias("cheap"),
            *[F.sum(c).alias(c) for c in sums],
        )
        .filter(F.col("k") > 0)  # no line comparable with a median: no product features
    )
    n, total = F.col("n"), F.col("total")
    return per_customer.select(
        "customer_id",
        F.when(n >= 2, F.col("later_products") / F.greatest(F.col("earlier_products"), F.lit(1))).alias(
            "customer_maturity__expansion_rate"
        ),
        F.when(n >= 2, F.col("repeat_orders") / (n - 1)).alias("repurchase_behavior__repeat_purchase_rate"),
        (F.col("repeat_lines") / F.col("k")).alias("repurchase_behavior__same_product_rate"),
        F.when(total > 0, F.col("p_squares") / (total * total)).alias("product_knowledge__product_concentration"),
        (F.col("repeat_products") / F.col("products")).alias("product_knowledge__repeat_product_rate"),
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
