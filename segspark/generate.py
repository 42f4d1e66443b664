"""Synthetic order lines with planted behaviour groups, generated inside Spark.

Every random draw is a hash of (seed, salt, ids), so the output does not depend
on partitioning or on the number of cores, and any slice can be regenerated.
Group g of K differs from the others on several axes at once (order rate,
basket value, hour of day, weekend share, return rate, discounts, categories),
so the ground truth in `truth/` is recoverable from behaviour alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

_MASK = 0x7FFFFFFFFFFFFFFF


def uniform(seed: int, salt: str, *cols: Column) -> Column:
    """A deterministic uniform draw in [0, 1) from a hash of the seed, a salt and columns."""
    h = F.xxhash64(F.lit(seed), F.lit(salt), *cols)
    return (h.bitwiseAND(F.lit(_MASK))).cast("double") / F.lit(float(2**63))


@dataclass(frozen=True)
class GenerateSpec:
    """What to generate."""

    customers: int = 5_000
    lines: int = 250_000
    groups: int = 4
    seed: int = 42
    end: date = date(2024, 1, 1)
    days: int = 730


def generate(spark: SparkSession, spec: GenerateSpec) -> tuple[DataFrame, DataFrame]:
    """Return (order_lines, truth) DataFrames: canonical columns, and customer_id -> group."""
    frames = _build(spark, spec)
    return frames["lines"], frames["truth"]


def generate_tickets(spark: SparkSession, spec: GenerateSpec) -> DataFrame:
    """Support tickets of the generated customers (the `tickets:` columns of the synthetic mapping).

    Group g of K opens tickets on 2% + 30% x g/(K-1) of its orders, a day or so
    after the order, rates them lower (satisfaction falls by one point per two
    groups, a third of tickets unrated), escalates 5% + 40% x g/(K-1) of them and
    prefers one contact channel per group.
    """
    return _build(spark, spec)["tickets"]


def _build(spark: SparkSession, spec: GenerateSpec) -> dict[str, DataFrame]:
    k, s = spec.groups, spec.seed
    lines_per_customer = spec.lines / spec.customers
    # Group g orders 2.2x as often as group g-1; the mean order count per customer
    # is scaled so that, at 3.5 lines per order on average, the total hits `lines`.
    avg_lines_per_order = 3.5
    g = F.col("group").cast("double")
    rate_factor = F.pow(F.lit(2.2), g - F.lit((k - 1) / 2))
    mean_rate = sum(2.2 ** (i - (k - 1) / 2) for i in range(k)) / k
    base_orders = lines_per_customer / avg_lines_per_order / mean_rate
    end_ts = datetime.combine(spec.end, datetime.min.time())
    start_ts = end_ts - timedelta(days=spec.days)
    partitions = max(2, min(2000, math.ceil(spec.lines / 500_000) * 2))

    customers = (
        spark.range(0, spec.customers, numPartitions=partitions)
        .withColumn("group", (F.col("id") % F.lit(k)).cast("int"))
        .withColumn("customer_id", F.format_string("C%08d", F.col("id")))
        .withColumn(
            "n_orders",
            F.greatest(
                F.lit(1),
                F.round(F.lit(base_orders) * rate_factor * (F.lit(0.6) + F.lit(0.8) * uniform(s, "n", F.col("id")))),
            ).cast("int"),
        )
        # Customers join at different times; frequent groups join earlier.
        .withColumn("join_frac", uniform(s, "join", F.col("id")) * F.lit(0.5))
    )
    orders = (
        customers.withColumn("o", F.explode(F.sequence(F.lit(0), F.col("n_orders") - 1)))
        .withColumn("u_t", uniform(s, "t", F.col("id"), F.col("o")))
        .withColumn(
            "day_offset", (F.col("join_frac") + (F.lit(1.0) - F.col("join_frac")) * F.col("u_t")) * F.lit(spec.days)
        )
        .withColumn(
            "weekend_pull",
            uniform(s, "we", F.col("id"), F.col("o")) < (F.lit(0.1) + F.lit(0.6) * g / F.lit(max(1, k - 1))),
        )
        .withColumn("day", F.date_add(F.lit(start_ts.date()), F.floor(F.col("day_offset")).cast("int")))
        # Weekend lovers move the order to the next Saturday or Sunday (never past the end).
        .withColumn(
            "weekend_day",
            F.date_add(
                F.next_day(F.date_sub(F.col("day"), 1), "Sat"),
                F.floor(uniform(s, "sd", F.col("id"), F.col("o")) * F.lit(2)).cast("int"),
            ),
        )
        .withColumn(
            "day",
            F.least(
                F.when(F.col("weekend_pull"), F.col("weekend_day")).otherwise(F.col("day")),
                F.lit(spec.end - timedelta(days=1)),
            ),
        )
        .withColumn(
            "hour",
            F.pmod(
                F.lit(8) + F.lit(3) * F.col("group") + F.floor(uniform(s, "h", F.col("id"), F.col("o")) * F.lit(3)),
                F.lit(24),
            ),
        )
        .withColumn(
            "order_ts",
            F.timestamp_seconds(
                F.unix_timestamp(F.col("day").cast("timestamp"))
                + F.col("hour").cast("long") * F.lit(3600)
                + F.floor(uniform(s, "m", F.col("id"), F.col("o")) * F.lit(3600)).cast("long")
            ),
        )
        .withColumn("order_id", F.format_string("O%08d-%05d", F.col("id"), F.col("o")))
        .withColumn(
            "n_lines",
            (F.lit(1) + F.floor(uniform(s, "nl", F.col("id"), F.col("o")) * F.lit(2 * avg_lines_per_order - 1))).cast(
                "int"
            ),
        )
    )
    lines = (
        orders.withColumn("l", F.explode(F.sequence(F.lit(0), F.col("n_lines") - 1)))
        .withColumn("u_p", uniform(s, "p", F.col("id"), F.col("o"), F.col("l")))
        .withColumn("product_n", F.floor(F.pow(F.col("u_p"), F.lit(2.0)) * F.lit(60)).cast("int"))
        .withColumn("product_id", F.format_string("P%d-%03d", F.col("group"), F.col("product_n")))
        .withColumn(
            "category",
            F.format_string(
                "cat_%02d", F.pmod(F.col("product_n") + F.col("group") * F.lit(3), F.lit(4) + F.col("group") * F.lit(3))
            ),
        )
        .withColumn(
            "unit_price",
            F.round(
                F.lit(2.0) * F.pow(F.lit(3.0), g) * (F.lit(0.7) + F.lit(0.6) * uniform(s, "pr", F.col("product_id"))), 2
            ),
        )
        .withColumn(
            "quantity",
            (F.lit(1) + F.floor(uniform(s, "q", F.col("id"), F.col("o"), F.col("l")) * F.lit(4))).cast("double"),
        )
        .withColumn(
            "discounted",
            uniform(s, "d", F.col("id"), F.col("o"), F.col("l"))
            < F.lit(0.05) + F.lit(0.5) * (F.lit(k - 1) - g) / F.lit(max(1, k - 1)),
        )
        .withColumn(
            "discount_amount",
            F.when(F.col("discounted"), F.round(F.col("unit_price") * F.col("quantity") * F.lit(0.2), 2)).otherwise(
                F.lit(0.0)
            ),
        )
        .withColumn(
            "channel",
            F.when(
                uniform(s, "c", F.col("id"), F.col("o")) < F.lit(0.8),
                F.element_at(
                    F.array(F.lit("web"), F.lit("app"), F.lit("store"), F.lit("phone")),
                    F.pmod(F.col("group"), F.lit(4)) + 1,
                ),
            ).otherwise(F.lit("web")),
        )
        .withColumn(
            "returned",
            uniform(s, "r", F.col("id"), F.col("o"), F.col("l")) < F.lit(0.01) + F.lit(0.12) * g / F.lit(max(1, k - 1)),
        )
    )
    purchase = lines.select(
        "customer_id",
        "order_id",
        "order_ts",
        "quantity",
        "unit_price",
        (F.col("quantity") * F.col("unit_price")).alias("line_amount"),
        "discount_amount",
        "product_id",
        "category",
        "channel",
        F.lit(False).alias("is_return"),
    )
    returns = (
        lines.filter(F.col("returned"))
        .select(
            "customer_id",
            F.concat(F.lit("R"), F.col("order_id")).alias("order_id"),
            (F.col("order_ts") + F.expr("INTERVAL 5 DAYS")).alias("order_ts"),
            (-F.col("quantity")).alias("quantity"),
            "unit_price",
            (-F.col("quantity") * F.col("unit_price")).alias("line_amount"),
            F.lit(0.0).alias("discount_amount"),
            "product_id",
            "category",
            "channel",
            F.lit(True).alias("is_return"),
        )
        .filter(F.col("order_ts") < F.lit(end_ts))
    )
    truth = customers.select("customer_id", "group")
    share = g / F.lit(max(1, k - 1))
    tickets = (
        orders.filter(uniform(s, "tk", F.col("id"), F.col("o")) < F.lit(0.02) + F.lit(0.3) * share)
        .withColumn("u_s", uniform(s, "ts", F.col("id"), F.col("o")))
        .select(
            F.format_string("T%08d-%05d", F.col("id"), F.col("o")).alias("ticket_id"),
            "customer_id",
            (
                F.col("order_ts") + F.make_interval(secs=(F.lit(3600.0) * (F.lit(2.0) + F.lit(40.0) * F.col("u_s"))))
            ).alias("created_ts"),
            F.round(F.lit(1.0) + F.lit(30.0) * (F.lit(1.0) + g) * uniform(s, "tr", F.col("id"), F.col("o")), 1).alias(
                "resolution_hours"
            ),
            F.when(
                uniform(s, "tc", F.col("id"), F.col("o")) < F.lit(0.75),
                F.element_at(
                    F.array(*[F.lit(c) for c in ("email", "chat", "phone", "web_form")]),
                    F.pmod(F.col("group"), F.lit(4)) + 1,
                ),
            )
            .otherwise(F.lit("email"))
            .alias("channel"),
            F.element_at(
                F.array(*[F.lit(c) for c in ("delivery", "billing", "product", "returns")]),
                (F.floor(F.col("u_s") * 4) + 1).cast("int"),
            ).alias("category"),
            F.when(
                uniform(s, "tu", F.col("id"), F.col("o")) >= F.lit(1 / 3),
                F.least(
                    F.lit(5.0),
                    F.greatest(
                        F.lit(1.0),
                        F.round(
                            F.lit(5.0)
                            - g / F.lit(2.0)
                            - F.floor(uniform(s, "tq", F.col("id"), F.col("o")) * F.lit(2.0))
                        ),
                    ),
                ),
            ).alias("satisfaction"),
            (uniform(s, "te", F.col("id"), F.col("o")) < F.lit(0.05) + F.lit(0.4) * share).alias("escalated"),
            "order_id",
        )
        .filter(F.col("created_ts") < F.lit(end_ts))
    )
    return {"lines": purchase.unionByName(returns), "truth": truth, "tickets": tickets}


def write_generated(spark: SparkSession, spec: GenerateSpec, out: str) -> dict[str, int]:
    """Generate and write `<out>/orders` and `<out>/truth` as Parquet; return row counts."""
    lines, truth = generate(spark, spec)
    lines.drop("is_return").write.mode("overwrite").parquet(f"{out}/orders")
    truth.write.mode("overwrite").parquet(f"{out}/truth")
    generate_tickets(spark, spec).write.mode("overwrite").parquet(f"{out}/tickets")
    return {
        "lines": spark.read.parquet(f"{out}/orders").count(),
        "customers": spark.read.parquet(f"{out}/truth").count(),
        "tickets": spark.read.parquet(f"{out}/tickets").count(),
    }
