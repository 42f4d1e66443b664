"""A user's own CSV export, brought in through a new mapping file only."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from segspark.ingest.validate import validate
from segspark.mapping import load_mapping
from segspark.tables import read_partitions
from tests.conftest import FIXTURES


def test_shop_export_ingests(spark: SparkSession, warehouse: str) -> None:
    mapping = load_mapping(str(FIXTURES / "shop_export.yaml"))
    report = validate(
        spark,
        mapping,
        root=warehouse,
        run_id="r",
        max_malformed_fraction=0.01,
        path=str(FIXTURES / "shop_export.csv"),
        max_order_ts=datetime(2030, 1, 1),
    )
    assert (report.rows_read, report.valid, report.customers, report.return_lines) == (8, 8, 3, 1)
    orders = read_partitions(spark, root=warehouse, table="orders", key="source")
    line = orders.filter((F.col("order_id") == "T100") & (F.col("product_id") == "A-2")).first()
    assert line is not None
    # 09:05 in Vienna (CET, UTC+1) is 08:05 UTC; decimal commas parsed through an expression.
    assert (line.order_ts, line.unit_price, line.line_amount, line.discount_amount, line.category, line.channel) == (
        datetime(2023, 1, 15, 8, 5),
        30.0,
        30.0,
        5.0,
        "kitchen",
        "online",
    )
    storno = orders.filter(F.col("order_id") == "S103").first()
    assert storno is not None
    # The flag column marks the return; its quantity and amount become negative.
    assert (storno.is_return, storno.quantity, storno.line_amount) == (True, -1.0, -8.0)
