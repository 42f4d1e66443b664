"""`segspark run` on exports of every shape, each brought in through a mapping file alone (issue: any shop's data).

Every shape runs the whole pipeline to a report; the skips and their reasons are
asserted. The suite runs a representative sample (SUITE_SHAPES); set
SEGSPARK_ALL_SHAPES=1 to run all six (scripts/shapes.sh, results in
docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from sklearn.metrics import adjusted_rand_score

from segspark.cli import main
from segspark.config import shipped_file
from segspark.generate import GenerateSpec, write_generated
from segspark.model.manifest import Manifest, load_manifest
from segspark.tables import read_partitions
from tests.conftest import axes_subset
from tests.shapes import SHAPES, write

SUITE_SHAPES = ("tiny", "planted")
ALL = os.environ.get("SEGSPARK_ALL_SHAPES") == "1"


@dataclass
class Ran:
    root: str
    summary: dict[str, Any]
    model: Manifest


def _summary(root: str) -> dict[str, Any]:
    runs = sorted(Path(root, "runs").glob("*/summary.json"), key=lambda p: p.stat().st_mtime)
    return dict(json.loads(runs[-1].read_text()))


def _run(mapping: Path, root: str, *extra: str) -> Ran:
    code = main(["run", "--source", str(mapping), "--set", f"warehouse.root={root}", *extra])
    assert code == 0, f"segspark run failed on {mapping.name}"
    summary = _summary(root)
    assert Path(root, "reports").is_dir() and list(Path(root, "reports").glob("*/index.html"))
    return Ran(root, summary, load_manifest(summary["steps"]["fit"]["model"]))


def _wanted(name: str) -> None:
    if not ALL and name not in SUITE_SHAPES:
        pytest.skip(f"shape {name} runs with SEGSPARK_ALL_SHAPES=1 (scripts/shapes.sh)")


@pytest.fixture(scope="module")
def shape_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    cache: dict[str, Ran] = {}

    def get(name: str) -> Ran:
        _wanted(name)
        if name not in cache:
            tmp = tmp_path_factory.mktemp(name)
            cache[name] = _run(write(SHAPES[name], tmp), str(tmp / "wh"))
        return cache[name]

    yield get


def _min_segment(model: Manifest) -> tuple[int, int]:
    """(smallest segment, the floor it must respect) over every fitted axis."""
    return min(min(ax.sizes) for ax in model.axes.values()), max(ax.min_segment_size for ax in model.axes.values())


def _few_weeks_asserts(ran: Ran) -> None:
    # 35 days of history: the 60, 90 and 180-day backfill dates fall before the first order.
    assert len(ran.summary["backfill_skipped"]) >= 3
    drift = ran.summary["steps"]["drift"]
    early = {o: why for o, why in drift["skipped_baselines"].items() if int(o) in (60, 90, 180)}
    assert len(early) == 3 and all("first order" in why for why in early.values())
    assert drift["baselines"], "drift compared nothing"
    report = Path(ran.summary["steps"]["report"]["path"]).read_text()
    assert "first order" in report  # the skipped baselines are in the report with their reason


def test_a_few_weeks_of_history_runs_to_a_report(shape_run: Any) -> None:
    ran = shape_run("few_weeks")
    _few_weeks_asserts(ran)
    assert len(ran.summary["steps"]["drift"]["baselines"]) == 3  # 7, 14 and 28 days compared
    assert len(ran.model.axes) >= 8, ran.model.skipped_axes


def test_date_only_timestamps_drop_time_of_day_with_a_reason(shape_run: Any) -> None:
    ran = shape_run("date_only")
    dropped = ran.model.dropped_features
    assert "purchase_cadence__time_of_day_consistency" in dropped
    assert "no time of day" in dropped["purchase_cadence__time_of_day_consistency"]
    assert "purchase_cadence" in ran.model.axes
    assert ran.model.axes["purchase_cadence"].features == ["weekend_ratio", "seasonal_concentration"]


def test_a_source_without_product_ids_skips_the_product_axes(shape_run: Any) -> None:
    ran = shape_run("no_products")
    for axis in ("repurchase_behavior", "product_knowledge", "value_sophistication"):
        assert "no product data" in ran.model.skipped_axes[axis]
    assert "expansion_rate" not in ran.model.axes["customer_maturity"].features
    assert "problem_complexity" in ran.model.axes


def test_a_tiny_new_shop_fits_only_what_its_customers_support(shape_run: Any) -> None:
    ran = shape_run("tiny")
    _few_weeks_asserts(ran)
    smallest, floor = _min_segment(ran.model)
    assert floor == 10 and smallest >= floor
    unsupported = {a: why for a, why in ran.model.skipped_axes.items() if "observed" in why or "usable" in why}
    assert unsupported, ran.model.skipped_axes
    assert all("customers" in why for why in unsupported.values())


def test_one_customer_with_a_hundred_times_the_spend_owns_no_segment(spark: SparkSession, shape_run: Any) -> None:
    ran = shape_run("whale")
    smallest, floor = _min_segment(ran.model)
    assert smallest >= floor
    profiles = read_partitions(
        spark, root=ran.root, table="customer_profiles", key="snapshot_date", values=[ran.summary["as_of"]]
    )
    value = ran.model.axes["purchase_value"]
    whale_segment = (
        profiles.filter(F.col("customer_id") == "K00001")
        .select(F.col("dominant_segments")["purchase_value"].alias("s"))
        .first()
    )
    assert whale_segment is not None
    assert value.sizes[value.segment_ids.index(whale_segment["s"])] >= floor


# Planted groups on `segspark generate` data (with its tickets), recovered per axis: adjusted Rand index of the
# dominant segment against the planted group, at least these (measured 2026-11-29; see docs/benchmarks.md).
# Chance gives 0; an axis whose silhouette picks k=2 or 3 for 4 groups can reach about 0.5 at best.
ARI_AT_LEAST = {
    "purchase_frequency": 0.25,
    "purchase_value": 0.35,
    "price_sensitivity": 0.2,
    "purchase_cadence": 0.15,
    "communication_preference": 0.2,
    "support_history": 0.2,
}


@pytest.fixture(scope="module")
def planted(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ran, DataFrame]]:
    _wanted("planted")
    tmp = tmp_path_factory.mktemp("planted")
    write_generated(spark, GenerateSpec(customers=600, lines=24_000, groups=4, seed=11, days=365), str(tmp / "gen"))
    mapping = yaml.safe_load(shipped_file("sources/synthetic.yaml").read_text())
    mapping["source"]["path"] = str(tmp / "gen" / "orders")
    mapping["tickets"]["source"]["path"] = str(tmp / "gen" / "tickets")
    path = tmp / "synthetic.yaml"
    path.write_text(yaml.safe_dump(mapping))
    # Only the axes whose recovery is asserted: the fit of the other eight would only cost time.
    axes_file = axes_subset(tmp, ARI_AT_LEAST)
    # History and drift are the other shapes' business: one backfill date keeps this run short.
    ran = _run(
        path,
        str(tmp / "wh"),
        "--set",
        "ingest.max_order_ts=2030-01-01",
        "--set",
        f"features.axes_file={axes_file}",
        "--set",
        "history.backfill_offsets=[7]",
        "--set",
        "drift.baselines=[7]",
    )
    yield ran, spark.read.parquet(str(tmp / "gen" / "truth"))


def test_generated_tickets_are_ingested_and_fit_support_history(planted: tuple[Ran, DataFrame]) -> None:
    ran, _ = planted
    tickets = ran.summary["steps"]["validate tickets"]
    assert tickets["rows_read"] == tickets["valid"] + tickets["malformed"] + tickets["out_of_scope"]
    assert tickets["valid"] > 0
    assert "support_history" in ran.model.axes
    assert ran.model.axes["support_history"].features == ["tickets_per_order", "satisfaction_avg", "escalation_rate"]


def test_planted_groups_are_recovered_per_axis(spark: SparkSession, planted: tuple[Ran, DataFrame]) -> None:
    ran, truth = planted
    profiles = read_partitions(
        spark, root=ran.root, table="customer_profiles", key="snapshot_date", values=[ran.summary["as_of"]]
    )
    # 600 customers: small enough to compare on the driver.
    rows = profiles.join(truth, "customer_id").select("group", "dominant_segments").toPandas()
    scores = {}
    for axis in ARI_AT_LEAST:
        assert axis in ran.model.axes, f"{axis} not fitted: {ran.model.skipped_axes.get(axis)}"
        found = rows["dominant_segments"].map(lambda d, a=axis: dict(d)[a])
        scores[axis] = adjusted_rand_score(rows["group"], found)
    failing = {a: round(s, 3) for a, s in scores.items() if s < ARI_AT_LEAST[a]}
    assert not failing, f"ARI below threshold: {failing} (all: { {a: round(s, 3) for a, s in scores.items()} })"


def test_planted_archetype_registry_is_the_models_table(spark: SparkSession, planted: tuple[Ran, DataFrame]) -> None:
    # Every observed combination is in the model's archetypes/ table, and the profiles' novelty flag is read
    # against it: at fit time, on the fit snapshot, no combination is new.
    ran, _ = planted
    from segspark.model.manifest import REGISTRY

    registry = spark.read.parquet(str(Path(ran.summary["steps"]["fit"]["model"]) / REGISTRY))
    assert registry.count() == ran.model.archetype_count > 0
    assert registry.agg(F.sum("customers")).first()[0] == ran.summary["steps"]["features"]["rows"]
    profiles = read_partitions(
        spark, root=ran.root, table="customer_profiles", key="snapshot_date", values=[ran.summary["as_of"]]
    )
    assert profiles.filter(F.col("archetype_is_new")).count() == 0
    assert profiles.select("archetype_key").distinct().count() == ran.model.archetype_count
