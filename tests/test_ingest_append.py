"""Incremental ingestion: deliveries appended through the ledger, counted once, corrected by name."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from segspark.ingest.validate import IngestReport, validate
from segspark.mapping import load_mapping
from segspark.tables import committed, read_partitions
from tests.conftest import FIXTURES

HEADER = "cust,invoice_no,when,sku,qty,price\n"


def write(path: Path, rows: list[str]) -> str:
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return str(path)


def ingest(spark: SparkSession, root: str, path: str, run_id: str, append: bool = True) -> IngestReport:
    mapping = load_mapping(str(FIXTURES / "malformed_orders.yaml"))
    return validate(
        spark,
        mapping,
        root=root,
        run_id=run_id,
        max_malformed_fraction=0.5,
        path=path,
        max_order_ts=datetime(2030, 1, 1),
        append=append,
    )


def lines(spark: SparkSession, root: str) -> dict[str, int]:
    orders = read_partitions(spark, root=root, table="orders", key="source")
    return {r["order_id"]: r["count"] for r in orders.groupBy("order_id").count().collect()}


def test_append_duplicate_and_correction(spark: SparkSession, warehouse: str, tmp_path: Path) -> None:
    history = write(
        tmp_path / "history.csv",
        [
            "A1,INV1,01/03/2023 10:15,SKU1,2,3.50",
            "A2,INV2,02/03/2023 11:00,SKU1,1,3.50",
            "A3,INV4,03/03/2023 12:00,SKU3,two,3.50",
        ],
    )
    first = ingest(spark, warehouse, history, "r1", append=False)
    assert (first.rows_read, first.valid, first.malformed, first.mode) == (3, 2, 1, "full")

    week = write(
        tmp_path / "week01.csv", ["A1,INV9,08/03/2023 10:00,SKU2,1,10.00", "A7,INV10,09/03/2023 10:00,SKU2,1,-1.00"]
    )
    second = ingest(spark, warehouse, week, "r2")
    assert (second.rows_read, second.valid, second.malformed, second.source_lines) == (2, 1, 1, 3)
    assert lines(spark, warehouse) == {"INV1": 1, "INV2": 1, "INV9": 1}

    # The same content again, under another name: counted once, nothing written.
    again = write(
        tmp_path / "week01_resent.csv",
        ["A1,INV9,08/03/2023 10:00,SKU2,1,10.00", "A7,INV10,09/03/2023 10:00,SKU2,1,-1.00"],
    )
    dup = ingest(spark, warehouse, again, "r3")
    assert dup.already_ingested_by == "r2" and dup.rows_read == 0
    assert committed(spark, root=warehouse, table="orders", key="source")["malformed_fixture"].run_id == "r2"

    # A corrected week01.csv replaces the first delivery's lines and rejects.
    fixed = tmp_path / "fix"
    fixed.mkdir()
    corrected = write(
        fixed / "week01.csv", ["A1,INV9,08/03/2023 10:00,SKU2,3,10.00", "A7,INV10,09/03/2023 10:00,SKU2,1,1.00"]
    )
    fix = ingest(spark, warehouse, corrected, "r4")
    assert fix.replaced == ["week01.csv"] and (fix.valid, fix.malformed, fix.source_lines) == (2, 0, 4)
    assert lines(spark, warehouse) == {"INV1": 1, "INV2": 1, "INV9": 1, "INV10": 1}
    inv9 = read_partitions(spark, root=warehouse, table="orders", key="source").filter(F.col("order_id") == "INV9")
    assert [r.quantity for r in inv9.collect()] == [3.0]

    # Rejects hold exactly the kept deliveries' rejected rows: history's unparseable quantity only.
    rejects = read_partitions(spark, root=warehouse, table="rejects", key="source").collect()
    assert sorted((r.run_id, r.reason) for r in rejects) == [("r1", "unparseable_quantity")]
    # The ledger: one part per kept delivery, in delivery order, with its accounting.
    ledger = committed(spark, root=warehouse, table="orders", key="source")["malformed_fixture"].parts
    assert [(p.run_id, p.info["input"], p.rows) for p in ledger] == [("r1", "history.csv", 2), ("r4", "week01.csv", 2)]
    # Replaced and superseded data are gone from disk: the directory holds the kept parts' files, once each.
    on_disk = sorted(p.name for p in (Path(warehouse) / "orders" / "source=malformed_fixture").glob("*.parquet"))
    assert on_disk == sorted(name for p in ledger for name in p.files) and len(ledger[0].files) > 0
    plain = pd.read_parquet(Path(warehouse) / "orders")
    assert sorted(plain["order_id"]) == ["INV1", "INV10", "INV2", "INV9"] and "run_id" not in plain.columns


def test_full_ingest_replaces_every_delivery(spark: SparkSession, warehouse: str, tmp_path: Path) -> None:
    ingest(spark, warehouse, write(tmp_path / "a.csv", ["A1,INV1,01/03/2023 10:15,SKU1,2,3.50"]), "r1", append=False)
    ingest(spark, warehouse, write(tmp_path / "b.csv", ["A2,INV2,02/03/2023 11:00,SKU1,1,3.50"]), "r2")
    ingest(spark, warehouse, write(tmp_path / "c.csv", ["A3,INV3,02/03/2023 11:00,SKU1,1,3.50"]), "r3", append=False)
    assert lines(spark, warehouse) == {"INV3": 1}


def test_remote_fingerprint_hashes_content_below_the_limit_else_the_listing(
    spark: SparkSession, tmp_path: Path
) -> None:
    import os

    from segspark.ingest.ledger import remote_fingerprint

    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "part-0.csv").write_text("x,y\n1,2\n")
    os.utime(b / "part-0.csv", (1_000_000_000, 1_000_000_000))
    # Same bytes, other modification time: one delivery when hashed, two when only listed.
    assert remote_fingerprint(spark, str(a)) == remote_fingerprint(spark, str(b))
    listed = remote_fingerprint(spark, str(a), limit=1), remote_fingerprint(spark, str(b), limit=1)
    assert listed[0].startswith("meta:") and listed[0] != listed[1]
