"""Quarantine on a hand-made malformed CSV: exact counts per reason, valid rows untouched."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from segspark.exc import DataQualityError
from segspark.ingest.validate import validate
from segspark.mapping import load_mapping
from segspark.schema import ORDER_LINES
from segspark.tables import committed, read_partitions
from tests.conftest import FIXTURES

NOW = datetime(2024, 1, 1)


def _mapping():
    m = load_mapping(str(FIXTURES / "malformed_orders.yaml"))
    return m


def _run(spark: SparkSession, root: str, fraction: float):
    return validate(
        spark,
        _mapping(),
        root=root,
        run_id="r1",
        max_malformed_fraction=fraction,
        path=str(FIXTURES / "malformed_orders.csv"),
        max_order_ts=NOW,
    )


def test_counts_per_reason_are_exact(spark: SparkSession, warehouse: str) -> None:
    report = _run(spark, warehouse, fraction=0.5)
    assert report.rows_read == 12
    assert report.malformed_by_reason == {
        "unparseable_timestamp": 1,
        "unparseable_quantity": 1,
        "negative_price": 1,
        "malformed_record": 1,
    }
    assert report.out_of_scope_by_reason == {
        "missing_customer_id": 1,
        "duplicate_line": 1,
        "non_product_line": 1,
    }
    assert (report.valid, report.malformed, report.out_of_scope) == (5, 4, 3)
    assert report.customers == 4
    assert report.return_lines == 1


def test_valid_rows_are_untouched(spark: SparkSession, warehouse: str) -> None:
    _run(spark, warehouse, fraction=0.5)
    orders = read_partitions(spark, root=warehouse, table="orders", key="source").drop("source")
    # Berlin is UTC+1 in March: 10:15 local is 09:15 UTC.
    expected = spark.createDataFrame(
        [
            ("A1", "INV1", datetime(2023, 3, 1, 9, 15), 2.0, 3.5, 7.0, None, "SKU1", None, None, False),
            ("A1", "INV1", datetime(2023, 3, 1, 9, 15), 1.0, 10.0, 10.0, None, "SKU2", None, None, False),
            ("A2", "INV2", datetime(2023, 3, 2, 10, 0), 1.0, 3.5, 3.5, None, "SKU1", None, None, False),
            ("A5", "RET1", datetime(2023, 3, 5, 13, 0), -1.0, 3.5, -3.5, None, "SKU1", None, None, True),
            ("A6", "INV8", datetime(2023, 3, 6, 7, 0), 1.0, 4.25, 4.25, None, "SKU5", None, None, False),
        ],
        ORDER_LINES,
    )
    assert_df_equality(orders, expected, ignore_row_order=True, ignore_nullable=True)


def test_rejects_keep_the_source_row(spark: SparkSession, warehouse: str) -> None:
    _run(spark, warehouse, fraction=0.5)
    rejects = read_partitions(spark, root=warehouse, table="rejects", key="source")
    rows = {r.reason: r for r in rejects.collect()}
    assert rows["unparseable_quantity"].source_row == (
        '{"cust":"A3","invoice_no":"INV4","when":"03/03/2023 12:00","sku":"SKU3","qty":"two",'
        '"price":"3.50","_corrupt_record":null}'
    )
    assert rows["malformed_record"].kind == "malformed"
    assert rows["missing_customer_id"].kind == "out_of_scope"
    assert {r.run_id for r in rows.values()} == {"r1"}


def test_threshold_exceeded_writes_no_table(spark: SparkSession, warehouse: str) -> None:
    with pytest.raises(DataQualityError, match=r"4 of 12 rows .* malformed"):
        _run(spark, warehouse, fraction=0.01)
    for table in ("orders", "rejects"):
        assert committed(spark, root=warehouse, table=table, key="source") == {}
        assert not (Path(warehouse) / table).exists()
    assert not any((Path(warehouse) / "_staging").glob("*/*"))


def test_future_lines_are_rejected(spark: SparkSession, warehouse: str) -> None:
    report = validate(
        spark,
        _mapping(),
        root=warehouse,
        run_id="r2",
        max_malformed_fraction=1.0,
        path=str(FIXTURES / "malformed_orders.csv"),
        max_order_ts=datetime(2023, 3, 4),
    )
    # A5's two lines (05/03) and A6's (06/03) are after 2023-03-04 00:00 UTC; the
    # out-of-scope POSTAGE line of A5 is now malformed first (checks are ordered).
    assert report.malformed_by_reason["future_timestamp"] == 3
    assert report.valid == 3


def test_kept_duplicates_are_counted_and_only_rejects_carry_their_json(spark: SparkSession, warehouse: str) -> None:
    from dataclasses import replace

    from pyspark.sql import functions as F

    from segspark.ingest.canonical import KIND, ROW, VALID, canonicalise, count_kept_duplicates
    from segspark.ingest.read import read_source

    keep = replace(_mapping(), duplicates="keep")
    report = validate(
        spark,
        keep,
        root=warehouse,
        run_id="r3",
        max_malformed_fraction=0.5,
        path=str(FIXTURES / "malformed_orders.csv"),
        max_order_ts=NOW,
    )
    # The repeated INV1 line stays valid and is counted once as a kept duplicate.
    assert (report.valid, report.duplicate_lines_kept) == (6, 1)
    assert "duplicate_line" not in report.out_of_scope_by_reason

    raw = read_source(spark, keep, str(FIXTURES / "malformed_orders.csv"))
    classified = canonicalise(raw, keep, max_order_ts=NOW)
    rows = classified.select(KIND, ROW).collect()
    assert all(r[ROW] is None for r in rows if r[KIND] == VALID)
    assert all(r[ROW] is not None and r[ROW].startswith('{"cust":') for r in rows if r[KIND] != VALID)
    # Spark cannot hash a map column: the row hash goes through its JSON, and duplicates still match.
    with_map = canonicalise(raw.withColumn("attrs", F.create_map(F.lit("sku"), F.col("sku"))), keep, max_order_ts=NOW)
    assert count_kept_duplicates(with_map) == 1
