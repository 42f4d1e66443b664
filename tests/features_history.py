"""A small order history whose feature values were worked out by hand (see test_features_hand.py)."""

from __future__ import annotations

from datetime import date, datetime

from pyspark.sql import DataFrame, SparkSession

from segspark.schema import ORDER_LINES

AS_OF = date(2024, 7, 1)


def line(cust, order, ts, qty, price, disc=0.0, product=None, cat=None, channel=None, ret=False):  # type: ignore[no-untyped-def]
    """One canonical order line; the amount is quantity * price."""
    return (
        cust,
        order,
        ts,
        float(qty),
        float(price),
        float(qty) * float(price),
        float(disc),
        product,
        cat,
        channel,
        ret,
    )


ROWS = [
    # Customer A: four orders and one return.
    line("A", "O1", datetime(2024, 1, 6, 10), 2, 5, 0, "P1", "X", "web"),  # Saturday
    line("A", "O1", datetime(2024, 1, 6, 10), 1, 20, 2, "P2", "Y", "web"),
    line("A", "O2", datetime(2024, 1, 16, 10), 1, 5, 0, "P1", "X", "web"),  # Tuesday
    line("A", "O3", datetime(2024, 3, 16, 22), 4, 10, 4, "P3", "Z", "app"),  # Saturday
    line("A", "O4", datetime(2024, 5, 15, 10), 1, 20, 0, "P2", "Y", "web"),  # Wednesday
    line("A", "O4", datetime(2024, 5, 15, 10), 1, 30, 0, "P4", "Z", "web"),
    line("A", "R1", datetime(2024, 5, 20, 12), -1, 30, 0, "P4", "Z", "web", ret=True),
    # Customer B: five one-line orders, gaps 10, 10, 2, 2 days.
    *[
        line("B", f"B{i}", datetime(2024, 2, d, 12), 1, 6, 0, "P1", "X", "store")
        for i, d in enumerate([1, 11, 21, 23, 25])
    ],
    # Customer C: a single order an hour before as_of.
    line("C", "C1", datetime(2024, 6, 30, 23), 1, 100, 0, "P5", "W", "web"),
    # After as_of: must not count anywhere.
    line("A", "O9", datetime(2024, 7, 1, 0), 50, 1000, 0, "P9", "Q", "phone"),
    line("D", "D1", datetime(2024, 7, 2), 1, 10, 0, "P1", "X", "web"),
]


def history(spark: SparkSession, rows: list[tuple] | None = None) -> DataFrame:  # type: ignore[type-arg]
    """The history as a canonical order-lines DataFrame."""
    return spark.createDataFrame(rows if rows is not None else ROWS, ORDER_LINES)
