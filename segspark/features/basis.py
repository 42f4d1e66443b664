"""The shared inputs of every feature block: lines before as_of and the order table.

Definitions follow SPEC Appendix A: a purchase line has quantity > 0 and is
not a return; an order is an order_id with at least one purchase line, timed
by its earliest purchase line and valued by the sum of their line amounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segspark.features import windows as W

DAY_MICROS = 86_400 * 10**6
MONTH_DAYS = 30.4375


def ts_literal(day: date) -> Column:
    """Midnight UTC of `day` as a timestamp literal (text parsed in the session zone, UTC)."""
    return F.to_timestamp(F.lit(f"{day.isoformat()} 00:00:00"))


def days_between(later: Column, earlier: Column) -> Column:
    """Fractional days from `earlier` to `later`."""
    return (F.unix_micros(later) - F.unix_micros(earlier)) / F.lit(float(DAY_MICROS))


@dataclass(frozen=True)
class Basis:
    """Lines and orders of one as-of date, in the source's business time zone."""

    as_of: date
    zone: str
    lines: DataFrame  # all valid lines with order_ts < as_of
    purchases: DataFrame  # purchase lines, with the order's idx and the customer's n
    orders: DataFrame  # one row per order
    tickets: DataFrame | None = None  # support tickets created before as_of, with their local_time

    @property
    def as_of_ts(self) -> Column:
        """as_of as a timestamp column (midnight UTC)."""
        return ts_literal(self.as_of)

    def days_before(self, days: int) -> Column:
        """The instant `days` days before as_of."""
        return ts_literal(self.as_of - timedelta(days=days))

    def local(self, col: Column) -> Column:
        """A UTC timestamp read as wall-clock time in the business zone."""
        return local_time(col, self.zone)


def local_time(col: Column, zone: str) -> Column:
    """A UTC timestamp read as wall-clock time in `zone`."""
    return F.from_utc_timestamp(col, zone) if zone != "UTC" else col


def cut_lines(orders_table: DataFrame, as_of: date) -> DataFrame:
    """The canonical order lines with order_ts < as_of."""
    return orders_table.filter(F.col("order_ts") < ts_literal(as_of))


def is_purchase() -> Column:
    """A purchase line: quantity > 0 and not a return (the one definition features and metrics share)."""
    return (F.col("quantity") > 0) & ~F.col("is_return")


def lifetime_value(purchase_value: Column, returned_value: Column) -> Column:
    """Purchases minus returns (returns counted by absolute value, whatever sign the export gives them)."""
    return F.coalesce(purchase_value, F.lit(0.0)) - F.abs(F.coalesce(returned_value, F.lit(0.0)))


def purchase_lines(lines: DataFrame) -> DataFrame:
    """Lines with quantity > 0 that are not returns."""
    return lines.filter(is_purchase())


def order_table(lines: DataFrame, *, zone: str) -> DataFrame:
    """One row per order: time, value, discount flag, channel, index in the customer's sequence, n, first time."""
    return (
        purchase_lines(lines)
        .groupBy("customer_id", "order_id")
        .agg(
            F.min("order_ts").alias("order_time"),
            F.sum("line_amount").alias("order_value"),
            F.max(F.coalesce(F.col("discount_amount"), F.lit(0.0)) > 0).alias("has_discount"),
            # A deterministic channel per order: the smallest one on its lines.
            F.min("channel").alias("order_channel"),
        )
        .withColumn("idx", F.row_number().over(W.order_sequence()) - 1)
        .withColumn("gap_days", days_between(F.col("order_time"), F.lag("order_time").over(W.order_sequence())))
        .withColumn("n", F.count(F.lit(1)).over(W.whole_customer()))
        .withColumn("first_time", F.min("order_time").over(W.whole_customer()))
        .withColumn("local_time", local_time(F.col("order_time"), zone))
    )


def index_purchases(lines: DataFrame, orders: DataFrame) -> DataFrame:
    """Purchase lines with their order's idx and the customer's n."""
    return purchase_lines(lines).join(
        orders.select("customer_id", "order_id", "idx", "n"), ["customer_id", "order_id"], how="inner"
    )
