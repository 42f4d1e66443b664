"""A user's own CSV export, brought in and segmented through a new mapping file only."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from segspark.cli import main
from segspark.ingest.validate import validate
from segspark.mapping import load_mapping
from segspark.model.manifest import load_manifest
from segspark.tables import read_partitions
from tests.conftest import FIXTURES


def test_shop_export_ingests(spark: SparkSession, warehouse: str) -> None:
    mapping = load_mapping(str(FIXTURES / "shop_export.yaml"))
    report = validate(
        spark, mapping, root=warehouse, run_id="r", max_malformed_fraction=0.01,
        path=str(FIXTURES / "shop_export.csv"), max_order_ts=datetime(2030, 1, 1),
    )  # fmt: skip
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


@pytest.fixture(scope="module")
def shop_run(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse of one `segspark run` on the shop export (shared by the tests below)."""
    root = tmp_path_factory.mktemp("shop") / "wh"
    code = main(
        [
            "run", "--source", str(FIXTURES / "shop_export.yaml"), "--as-of", "2023-06-01",
            "--set", f"warehouse.root={root}", "--set", "ingest.max_order_ts=2030-01-01",
            "--set", "fit.save_mllib=false", "--set", "fit.k_max=3", "--set", "history.backfill_offsets=[31]",
            "--set", "drift.baselines=[31]",
        ]
    )  # fmt: skip
    assert code == 0
    return root


def test_shop_export_is_segmented_by_segspark_run(spark: SparkSession, shop_run: Path) -> None:
    root = shop_run
    features = read_partitions(spark, root=str(root), table="features", key="snapshot_date", values=["2023-06-01"])
    assert sorted(r.customer_id for r in features.select("customer_id").collect()) == ["K-001", "K-002", "K-003"]
    # The source has categories, discounts, channels and a return: those axes run.
    assert "category_exploration__unique_categories" in features.columns
    assert "price_sensitivity__discount_usage_rate" in features.columns
    assert "return_behavior__return_rate" in features.columns
    model = load_manifest(str(root))
    assert model.source == "shop_export"
    assert {"purchase_frequency", "category_exploration", "price_sensitivity"} <= set(model.axes)
    for axis in model.axes.values():
        assert sum(axis.sizes) == 3
    summary = json.loads(next((root / "runs").glob("*/summary.json")).read_text())
    assert list(summary["steps"]) == ["validate", "features", "fit", "score", "backfill", "drift"]
    assert summary["steps"]["backfill"]["dates"] == ["2023-05-01"]
    profiles = read_partitions(
        spark, root=str(root), table="customer_profiles", key="snapshot_date", values=["2023-06-01"]
    )
    # By hand from the CSV: K-001 bought 25 + 30 + 12.50 + 24 and returned 8 in three orders (S103 is the return).
    metrics = {r.customer_id: (r.lifetime_value, r.total_orders) for r in profiles.collect()}
    assert metrics == {"K-001": (83.5, 3), "K-002": (60.0, 2), "K-003": (20.0, 1)}


def test_score_and_profile_commands(shop_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--set", f"warehouse.root={shop_run}", "--set", "ingest.max_order_ts=2030-01-01"]
    source = ["--source", str(FIXTURES / "shop_export.yaml")]
    # The standalone score command: features as of an earlier date, scored with the run's model.
    assert main(["score", *source, "--as-of", "2023-05-01", *common]) == 0
    capsys.readouterr()
    assert main(["profile", "--customer", "K-002", "--as-of", "2023-05-01", *common]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["customer_id"] == "K-002" and doc["snapshot_date"] == "2023-05-01"
    assert (doc["lifetime_value"], doc["total_orders"]) == (60.0, 2)
    model = load_manifest(str(shop_run))
    assert list(doc["behavioral_fingerprint"]) == list(model.axes)
    for axis, segments in doc["behavioral_fingerprint"].items():
        assert sum(s["membership"] for s in segments.values()) == pytest.approx(1.0, abs=1e-12)
        assert doc["dominant_segments"][axis]["segment_id"] in segments
    assert len(doc["distance_vector"]) == sum(a.k for a in model.axes.values())
    # K-003's first order is on 7 May: no profile on 1 May, and the error says so.
    assert main(["profile", "--customer", "K-003", "--as-of", "2023-05-01", *common]) == 1
    assert "has no profile on snapshot 2023-05-01" in capsys.readouterr().err
    # Without --as-of the newest snapshot (1 June) is used.
    assert main(["profile", "--customer", "K-003", *common]) == 0
    assert json.loads(capsys.readouterr().out)["snapshot_date"] == "2023-06-01"
