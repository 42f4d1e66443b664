"""The canonical order-line schema (SPEC section 2) and the tables' fixed schemas."""

from __future__ import annotations

from pyspark.sql import types as T

REQUIRED_COLUMNS = ("customer_id", "order_id", "order_ts", "quantity", "unit_price")
OPTIONAL_COLUMNS = ("line_amount", "discount_amount", "product_id", "category", "channel")

# Canonical type of every column a mapping may fill.
CANONICAL_TYPES: dict[str, T.DataType] = {
    "customer_id": T.StringType(),
    "order_id": T.StringType(),
    "order_ts": T.TimestampType(),
    "quantity": T.DoubleType(),
    "unit_price": T.DoubleType(),
    "line_amount": T.DoubleType(),
    "discount_amount": T.DoubleType(),
    "product_id": T.StringType(),
    "category": T.StringType(),
    "channel": T.StringType(),
}

ORDER_LINES = T.StructType(
    [
        T.StructField("customer_id", T.StringType(), False),
        T.StructField("order_id", T.StringType(), False),
        T.StructField("order_ts", T.TimestampType(), False),
        T.StructField("quantity", T.DoubleType(), False),
        T.StructField("unit_price", T.DoubleType(), False),
        T.StructField("line_amount", T.DoubleType(), False),
        T.StructField("discount_amount", T.DoubleType(), True),
        T.StructField("product_id", T.StringType(), True),
        T.StructField("category", T.StringType(), True),
        T.StructField("channel", T.StringType(), True),
        T.StructField("is_return", T.BooleanType(), False),
    ]
)

REJECTS = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("kind", T.StringType(), False),
        T.StructField("reason", T.StringType(), False),
        T.StructField("source_row", T.StringType(), False),
    ]
)


# The optional support tickets (SPEC section 2): canonical type of every column a tickets mapping may fill.
TICKET_REQUIRED = ("customer_id", "created_ts")
TICKET_TYPES: dict[str, T.DataType] = {
    "ticket_id": T.StringType(),
    "customer_id": T.StringType(),
    "created_ts": T.TimestampType(),
    "resolved_ts": T.TimestampType(),
    "resolution_hours": T.DoubleType(),
    "channel": T.StringType(),
    "category": T.StringType(),
    "satisfaction": T.DoubleType(),
    "escalated": T.BooleanType(),
    "order_id": T.StringType(),
}

TICKETS = T.StructType(
    [
        T.StructField("ticket_id", T.StringType(), False),
        T.StructField("customer_id", T.StringType(), False),
        T.StructField("created_ts", T.TimestampType(), False),
        T.StructField("resolution_hours", T.DoubleType(), True),
        T.StructField("channel", T.StringType(), True),
        T.StructField("category", T.StringType(), True),
        T.StructField("satisfaction", T.DoubleType(), True),
        T.StructField("escalated", T.BooleanType(), True),
        T.StructField("order_id", T.StringType(), True),
    ]
)
