"""The shipped mappings on slices of the bundled real data."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from segspark.ingest.validate import validate
from segspark.mapping import load_mapping
from segspark.tables import read_partitions
from tests.conftest import DATA

NOW = datetime(2030, 1, 1)


def _orii_slice(tmp_path: Path) -> str:
    df = pd.read_parquet(DATA / "online_retail_ii" / "online_retail_ii.parquet")
    part = df[df["Invoice"].isin(["556814", "C489449", "489439", "C489535"])]
    path = tmp_path / "orii.parquet"
    part.to_parquet(path, index=False)  # pandas writes nanosecond timestamps, as users' files do
    return str(path)


def test_online_retail_ii(spark: SparkSession, warehouse: str, tmp_path: Path) -> None:
    path = _orii_slice(tmp_path)
    report = validate(
        spark,
        load_mapping("online_retail_ii"),
        root=warehouse,
        run_id="r",
        max_malformed_fraction=0.01,
        path=path,
        max_order_ts=NOW,
    )
    # The expected accounting, derived from the slice itself with the mapping's rules (pandas, not segspark).
    raw = pd.read_parquet(path)
    rules = load_mapping("online_retail_ii").exclude_products
    excluded = {reason: int(raw["StockCode"].isin(codes).sum()) for reason, codes in rules.items()}
    kept = raw[~raw["StockCode"].isin([c for codes in rules.values() for c in codes])]
    assert report.rows_read == len(raw)
    assert report.out_of_scope_by_reason == {r: n for r, n in excluded.items() if n}
    assert excluded["discount_line"] == 2 and excluded["non_product_line"] == 1  # the slice has both kinds
    assert report.valid == len(kept)
    returns = kept["Invoice"].str.startswith("C") | (kept["Quantity"] < 0)
    assert report.return_lines == int(returns.sum()) > 0
    orders = read_partitions(spark, root=warehouse, table="orders", key="source")
    # BST: 08:34 London on 2011-06-15 is 07:34 UTC; the float id 14852.0 reads as "14852".
    first = orders.filter((F.col("order_id") == "556814") & (F.col("product_id") == "23092")).first()
    assert first is not None
    assert (first.customer_id, first.order_ts, first.quantity, first.unit_price, first.line_amount) == (
        "14852",
        datetime(2011, 6, 15, 7, 34),
        2.0,
        7.9,
        15.8,
    )
    # GMT in December: 10:33 London is 10:33 UTC; C-invoice lines are returns with negative amounts.
    ret = orders.filter(F.col("order_id") == "C489449").collect()
    assert len(ret) == 9
    assert all(r.is_return and r.quantity < 0 and r.line_amount < 0 for r in ret)
    assert {r.order_ts for r in ret} == {datetime(2009, 12, 1, 10, 33)}
    assert {r.customer_id for r in ret} == {"16321"}


def test_complete_journey(spark: SparkSession, warehouse: str, tmp_path: Path) -> None:
    tx = pd.read_parquet(DATA / "complete_journey_sample" / "transactions_sample.parquet")
    path = tmp_path / "cj.parquet"
    tx[tx["household_id"].isin(["1", "1038"])].to_parquet(path, index=False)
    report = validate(
        spark,
        load_mapping("complete_journey"),
        root=warehouse,
        run_id="r",
        max_malformed_fraction=0.01,
        path=str(path),
        max_order_ts=NOW,
    )
    assert report.out_of_scope_by_reason.get("zero_quantity", 0) >= 1
    orders = read_partitions(spark, root=warehouse, table="orders", key="source")
    # Household 1, basket 31317046240, product 922281: 2 units for 2.50 with
    # retail_disc 3.48 and coupon_disc 1.00; category from the products table.
    line = orders.filter((F.col("order_id") == "31317046240") & (F.col("product_id") == "922281")).first()
    assert line is not None
    assert line.customer_id == "1"
    assert line.line_amount == 2.5
    assert line.unit_price == 1.25
    assert abs(line.discount_amount - 4.48) < 1e-12
    assert line.category == "AIR CARE"
    # 18:55:24 in New York (EST) is 23:55:24 UTC.
    assert line.order_ts == datetime(2017, 1, 7, 23, 55, 24)
