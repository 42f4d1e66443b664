"""Every window the feature engine uses, built once, with explicit frames."""

from __future__ import annotations

from pyspark.sql import Window, WindowSpec
from pyspark.sql import functions as F

CUSTOMER = "customer_id"
WHOLE = (Window.unboundedPreceding, Window.unboundedFollowing)


def order_sequence() -> WindowSpec:
    """A customer's orders in time order (ties by order id): for row_number and lag."""
    return Window.partitionBy(CUSTOMER).orderBy("order_time", "order_id")


def whole_customer() -> WindowSpec:
    """All rows of a customer: for per-customer totals next to each row."""
    return Window.partitionBy(CUSTOMER).rowsBetween(*WHOLE)


def whole_customer_key(key: str) -> WindowSpec:
    """All rows of one (customer, key) pair, e.g. a product or a category."""
    return Window.partitionBy(CUSTOMER, key).rowsBetween(*WHOLE)


def customer_key_sequence(key: str) -> WindowSpec:
    """The rows of one (customer, key) pair in order index order: for marking one row per pair."""
    return Window.partitionBy(CUSTOMER, key).orderBy("idx")


def main_category_rank() -> WindowSpec:
    """Categories of one order, largest value first, ties to the smallest name."""
    return Window.partitionBy(CUSTOMER, "order_id").orderBy(F.col("category_value").desc(), "category")


def price_ladder(key: str) -> WindowSpec:
    """Distinct unit prices of a group (`key`) in ascending order, every lower price in the frame."""
    return Window.partitionBy(key).orderBy("unit_price").rowsBetween(Window.unboundedPreceding, -1)


def whole_group(key: str) -> WindowSpec:
    """All rows sharing `key` (a population group such as a price group)."""
    return Window.partitionBy(key).rowsBetween(*WHOLE)
