"""A user's own CSV export, brought in and segmented through a new mapping file only."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from segspark.cli import main
from segspark.ingest.validate import validate
from segspark.mapping import load_mapping
from segspark.model.manifest import load_manifest
from segspark.tables import committed, read_partitions
from tests.conftest import FIXTURES, REPO, axes_subset
from tests.fake_claude import fake_claude


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
    assert {"category_exploration", "price_sensitivity"} <= set(model.axes)
    # Only one of the three customers has the two orders an inter-order gap needs: not enough to fit on.
    assert "only 1 customers have every feature" in model.skipped_axes["purchase_frequency"]
    for axis in model.axes.values():
        assert sum(axis.sizes) == 3
    summary = json.loads(next((root / "runs").glob("*/summary.json")).read_text())
    assert list(summary["steps"]) == [
        "validate",
        "features",
        "fit",
        "score",
        "features@2023-05-01",
        "score@2023-05-01",
        "backfill",
        "drift",
        "state",
        "report",
    ]
    report = Path(summary["steps"]["report"]["path"])
    assert report == root / "reports" / summary["run_id"] / "index.html"
    html = report.read_text()
    assert "shop_export as of 2023-06-01" in html and "category_exploration" in html
    assert summary["steps"]["backfill"]["dates"] == ["2023-05-01"]
    # Drift of 1 June against 1 May: the customers present on both dates (K-003 first ordered on 7 May).
    drift = read_partitions(spark, root=str(root), table="drift", key="snapshot_date", values=["2023-06-01"])
    rows = {r.customer_id: r for r in drift.collect()}
    assert sorted(rows) == ["K-001", "K-002"]
    assert {r.baseline_date for r in rows.values()} == {"2023-05-01"} and rows["K-001"].days_elapsed == 31
    assert set(rows["K-001"].alert) == set(model.axes)
    population = read_partitions(
        spark, root=str(root), table="drift_population", key="snapshot_date", values=["2023-06-01"]
    )
    kinds = {r.kind for r in population.select("kind").distinct().collect()}
    assert {"transition", "psi"} <= kinds
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


def _copy(shop_run: Path, tmp_path: Path) -> Path:
    root = tmp_path / "wh"
    shutil.copytree(shop_run, root)
    return root


def _good_reply(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    payload = json.loads(body["messages"][0]["content"])
    axis = payload["axis"].split("_")[0]
    segments = [
        {"id": s["id"], "name": f"{axis}_group_{i}", "interpretation": f"Group {i} of {axis}."}
        for i, s in enumerate(payload["segments"])
    ]
    text = json.dumps({"segments": segments})
    return 200, {
        "id": "m",
        "type": "message",
        "role": "assistant",
        "model": "x",
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "content": [{"type": "text", "text": text}],
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }


def test_naming_sends_no_customer_or_product_text(
    shop_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _copy(shop_run, tmp_path)
    with fake_claude(_good_reply) as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-0002")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        assert main(["name", "--set", f"warehouse.root={root}"]) == 0
        model = load_manifest(str(root))
        assert len(fake.requests) == len(model.axes)
        bodies = json.dumps([body for _, body in fake.requests])
        # Customer ids, order ids, product ids and category texts of the input never leave.
        for text in ("K-001", "K-002", "K-003", "T100", "S103", "A-1", "A-2", "garden", "kitchen", "books", "toys"):
            assert text not in bodies, text
        assert all(ax.name_sources == ["claude"] * ax.k for ax in model.axes.values())
        assert model.axes["category_exploration"].names[0] == "category_group_0"
        # A second `segspark name` on the same model: answered from the cache, no request.
        assert main(["name", "--set", f"warehouse.root={root}"]) == 0
        assert len(fake.requests) == len(model.axes)


def test_canary_key_is_never_written(shop_run: Path, tmp_path: Path) -> None:
    canary = "sk-canary-" + "7f3a9c1e5b2d4860"
    root = _copy(shop_run, tmp_path)
    events = tmp_path / "events"
    events.mkdir()
    overlay = tmp_path / "eventlog.yaml"
    overlay.write_text(
        f"spark:\n  extra:\n    spark.eventLog.enabled: 'true'\n    spark.eventLog.dir: 'file://{events}'\n"
    )
    with fake_claude(lambda body: (500, {"type": "error", "error": {"type": "api_error", "message": "boom"}})) as fake:
        env = {
            **os.environ,
            "ANTHROPIC_API_KEY": canary,
            "ANTHROPIC_BASE_URL": fake.url,
            "PYSPARK_PYTHON": sys.executable,
        }
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "segspark.cli",
                "fit",
                "-v",
                "--as-of",
                "2023-06-01",
                "--source",
                str(FIXTURES / "shop_export.yaml"),
                "--config",
                str(overlay),
                "--set",
                f"warehouse.root={root}",
                "--set",
                "fit.k_max=2",
                "--set",
                "fit.save_mllib=false",
                "--set",
                "naming.max_retries=1",
                "--set",
                "fit.min_segment_customers=1",
                # An axis that fits (so naming asks the API) and the one whose skip reason is asserted.
                "--set",
                f"features.axes_file={axes_subset(tmp_path, ('category_exploration', 'support_history'))}",
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "INFO  [fit] started" in done.stderr  # -v: the log lines come back to the terminal
    # A fit of its own reads the features step's reasons from the snapshot's commit.
    (fitted,) = [line.removeprefix("model: ") for line in done.stdout.splitlines() if line.startswith("model: ")]
    assert "no support tickets" in load_manifest(fitted).skipped_axes["support_history"]
    # The key was really in play: the fake API received it, and refused.
    assert fake.requests and all(canary in " ".join(h.values()) for h, _ in fake.requests)
    assert "API status 500" in done.stderr
    assert canary not in done.stdout and canary not in done.stderr
    logs = list(root.glob("runs/*/*.log"))
    assert logs and not [p for p in logs if canary in p.read_text()]
    written = [p for p in [*root.rglob("*"), *events.rglob("*")] if p.is_file()]
    assert any(p.parent == events or events in p.parents for p in written), "no Spark event log was written"
    for path in written:
        assert canary.encode() not in path.read_bytes(), path


def test_lookalikes_command(shop_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeds = tmp_path / "seeds.csv"
    seeds.write_text("customer_id\nK-001\nnobody\n")
    csv = tmp_path / "audience_csv"
    common = ["--set", f"warehouse.root={shop_run}"]
    assert (
        main(["lookalikes", "--seeds", str(seeds), "--k", "5", "--as-of", "2023-06-01", "--csv", str(csv), *common])
        == 0
    )
    out = capsys.readouterr().out
    assert "skipped 1 seed(s) without a profile: nobody" in out
    # Three customers: K-001's neighbours are the two others, best first.
    lines = next(csv.glob("part-*.csv")).read_text().splitlines()
    assert lines[0] == "seed_id,rank,customer_id,similarity"
    rows = [line.split(",") for line in lines[1:]]
    assert [(r[0], r[1]) for r in rows] == [("K-001", "1"), ("K-001", "2")]
    assert {r[2] for r in rows} == {"K-002", "K-003"}
    assert float(rows[0][3]) >= float(rows[1][3])
    empty = tmp_path / "empty.txt"
    empty.write_text("customer_id\n\n")
    assert main(["lookalikes", "--seeds", str(empty), *common]) == 1
    assert "seed list is empty" in capsys.readouterr().err


def test_a_failed_step_is_named_with_what_was_committed(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "wh"
    code = main(
        [
            "run",
            "--source",
            str(FIXTURES / "shop_export.yaml"),
            "--as-of",
            "2023-06-01",
            "--set",
            f"warehouse.root={root}",
            "--set",
            "ingest.max_order_ts=2030-01-01",
            "--set",
            f"features.axes_file={tmp_path / 'no_such_axes.yaml'}",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "step features failed" in err and "no_such_axes.yaml" in err
    assert "already committed under" in err and "orders/source=shop_export, rejects/source=shop_export" in err
    summary = json.loads(next((root / "runs").glob("*/summary.json")).read_text())
    assert summary["failed_step"]["step"] == "features"
    assert not (root / "features").exists()


@pytest.mark.slow
def test_features_and_scoring_run_on_spark_connect(spark: SparkSession, shop_run: Path, tmp_path: Path) -> None:
    """`segspark score` (features, then scoring) in a process whose session is a local Spark Connect one
    writes the same features and profiles as the classic session did."""
    root = _copy(shop_run, tmp_path)
    model = next((root / "models").glob("*/manifest.json")).parent
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "segspark.cli",
            "score",
            "--as-of",
            "2023-05-01",
            "--source",
            str(FIXTURES / "shop_export.yaml"),
            "--model",
            str(model),
            "--set",
            f"warehouse.root={root}",
            "--set",
            "spark.remote=local[2]",
            "--set",
            "spark.shuffle_partitions=2",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # The console (no -v): segspark's progress on stdout; on stderr nothing of the JVM's (launcher notices,
    # log4j lines, progress bars) nor any INFO line: they went to the run's log files.
    assert "scored with model" in done.stdout
    assert not re.search(r"incubator|log4j|\d\d/\d\d/\d\d \d\d:\d\d:\d\d|INFO|\(\d+ \+ \d+\) / \d+", done.stderr), (
        done.stderr
    )
    run_log = sorted(root.glob("runs/*/segspark.log"))[-1]  # this command's (run ids sort by time)
    # The local server was started with segspark's settings, not Spark's defaults (200 partitions).
    assert "over Spark Connect (local[2]), 2 shuffle partitions" in run_log.read_text()
    assert "committed customer_profiles/snapshot_date=2023-05-01" in run_log.read_text()
    assert (run_log.parent / "spark.log").stat().st_size > 0  # the Connect server's output
    for table, order in (("features", "customer_id"), ("customer_profiles", "customer_id")):
        classic = read_partitions(spark, root=str(shop_run), table=table, key="snapshot_date", values=["2023-05-01"])
        remote = read_partitions(spark, root=str(root), table=table, key="snapshot_date", values=["2023-05-01"])
        assert remote.count() == classic.count() == 2
        # Written by the Connect run: a different commit of the same partition.
        assert _commit_run(spark, root, table) != _commit_run(spark, shop_run, table)
        assert_df_equality(remote.orderBy(order), classic.orderBy(order), ignore_nullable=True)


def _commit_run(spark: SparkSession, root: Path, table: str) -> str:
    return committed(spark, root=str(root), table=table, key="snapshot_date")["2023-05-01"].run_id
