"""The scheduled command replayed week after week on a slice of real data, with each week's orders
delivered as a new file: drift against every offset, trend, a policy refit keeping ids, idempotent reruns.

The exhaustive replay (many weeks, the whole data set) is `bench/weekly.py`; this is its sample.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from chispa import assert_df_equality
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segspark.cli import main
from segspark.config import Config, load_config
from segspark.context import make_context
from segspark.model.manifest import Manifest, load_manifest, model_dir
from segspark.pipeline import run_pipeline
from segspark.schedule.weekly import run_week
from segspark.tables import committed, read_partitions
from tests.conftest import REPO, axes_subset

START = date(2011, 9, 5)  # the initial run, a Monday
# Two weeks: one scored with the initial model, one refitted by the age policy (bench/weekly.py replays many).
WEEKS = [START + timedelta(days=7 * i) for i in (1, 2)]
OFFSETS = (7, 14, 28, 60, 90, 180)
KEEP_AXES = ("purchase_frequency", "purchase_value", "customer_maturity", "loyalty_trajectory")


@dataclass
class Replay:
    config: Config
    root: str
    initial_model: Manifest
    weeks: dict[date, dict[str, Any]]  # the run summary of each week's scheduled run


def bundle_weekly_command(config_file: Path, day: date) -> list[str]:
    """The weekly task's parameters exactly as databricks.yml defines them, with this test's config file."""
    bundle = yaml.safe_load((REPO / "databricks.yml").read_text())
    (task,) = bundle["resources"]["jobs"]["segspark_weekly"]["tasks"]
    return [
        p.replace("${workspace.file_path}/conf/databricks.yaml", str(config_file)).replace(
            "{{job.start_time.iso_date}}", day.isoformat()
        )
        for p in task["python_wheel_task"]["parameters"]
    ]


def newest_summary(root: str) -> dict[str, Any]:
    runs = sorted(Path(root, "runs").glob("*/summary.json"), key=lambda p: p.stat().st_mtime)
    return dict(json.loads(runs[-1].read_text()))


@pytest.fixture(scope="module")
def replay(spark: SparkSession, orii_slice: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    tmp = tmp_path_factory.mktemp("weekly")
    lines = pd.read_parquet(orii_slice)
    initial = tmp / "history.parquet"
    lines[lines["InvoiceDate"] < pd.Timestamp(START)].to_parquet(initial, index=False)
    inbox = tmp / "inbox"
    inbox.mkdir()
    root = str(tmp / "wh")
    # conf/local.yaml plus this test's settings, in the one file the bundle's task passes with --config.
    settings = yaml.safe_load((REPO / "conf" / "local.yaml").read_text())
    settings.update(
        {
            "warehouse": {"root": root},
            # Four axes, and no MLlib copies of the models: the fit is the dearest step and the schedule is
            # what is tested.
            "features": {"axes_file": str(axes_subset(tmp, KEEP_AXES))},
            "fit": {"k_max": 3, "save_mllib": False},
            "schedule": {"inbox": str(inbox), "refit_every_weeks": 2, "refit_psi": 0.0, "refit_silhouette_drop": 0.0},
        }
    )
    config_file = tmp / "scheduled.yaml"
    config_file.write_text(yaml.safe_dump(settings))
    config = load_config([config_file])
    first = run_pipeline(config, as_of=START.isoformat(), input_path=str(initial))
    assert first.model is not None
    weeks: dict[date, dict[str, Any]] = {}
    for day in WEEKS:
        week = lines[
            (lines["InvoiceDate"] >= pd.Timestamp(day - timedelta(days=7))) & (lines["InvoiceDate"] < pd.Timestamp(day))
        ]
        # The inbox keeps every earlier delivery: the ledger must ingest each file once.
        week.to_parquet(inbox / f"orders_{day}.parquet", index=False)
        assert main(bundle_weekly_command(config_file, day)) == 0
        weeks[day] = newest_summary(root)
    yield Replay(config, root, load_manifest(first.model), weeks)


def _table(spark: SparkSession, root: str, table: str, day: date) -> DataFrame:
    return read_partitions(spark, root=root, table=table, key="snapshot_date", values=[day.isoformat()])


def test_every_week_completes_and_ingests_only_its_new_file(spark: SparkSession, replay: Replay) -> None:
    for day, summary in replay.weeks.items():
        week = summary["weeks"][day.isoformat()]
        assert not week["complete_already"] and Path(week["report"]).is_file()
        ingested = [info["input"] for key, info in summary["steps"].items() if key.startswith("ingest ")]
        assert ingested == [f"orders_{day}.parquet"], f"week {day} ingested {ingested}"
        state = _table(spark, replay.root, "customer_state", day)
        profiles = _table(spark, replay.root, "customer_profiles", day)
        assert state.count() == profiles.count() > 0
    ledger = committed(spark, root=replay.root, table="orders", key="source")["online_retail_ii"].parts
    assert [p.info["input"] for p in ledger] == ["history.parquet", *[f"orders_{d}.parquet" for d in WEEKS]]


def test_drift_covers_every_offset_with_true_days_elapsed(spark: SparkSession, replay: Replay) -> None:
    # The slice starts in December 2009: every offset of every week lies within its history.
    for day in WEEKS:
        drift = _table(spark, replay.root, "drift", day)
        rows = drift.select("baseline_offset", "baseline_date", "days_elapsed").distinct().collect()
        served = {(r.baseline_offset, r.baseline_date, r.days_elapsed) for r in rows}
        assert sorted(o for o, _, _ in served) == list(OFFSETS), day
        for offset, baseline, days in served:
            assert days == (day - date.fromisoformat(baseline)).days
            assert abs(days - offset) <= max(3, offset // 10)


def test_trend_for_customers_present_at_all_four_trend_dates(spark: SparkSession, replay: Replay) -> None:
    for day, summary in replay.weeks.items():
        trend_dates = summary["steps"]["drift"]["trend_dates"]
        assert sorted(int(o) for o in trend_dates) == [7, 14, 90, 180], day
        present = None
        for d in trend_dates.values():
            ids = _table(spark, replay.root, "customer_profiles", date.fromisoformat(d)).select("customer_id")
            present = ids if present is None else present.join(ids, "customer_id", how="inner")
        assert present is not None
        drift = _table(spark, replay.root, "drift", day).join(present, "customer_id", how="inner")
        assert drift.count() > 0
        assert drift.filter(F.col("trend").isNull() | (F.size("trend") == 0)).count() == 0, day


def test_policy_refit_keeps_segment_ids_and_names(replay: Replay) -> None:
    weeks = {d: s["weeks"][d.isoformat()] for d, s in replay.weeks.items()}
    refits = {d: w["refit"] for d, w in weeks.items() if w["refit"]}
    assert list(refits) == [WEEKS[1]] and "2.0 weeks old" in refits[WEEKS[1]][0]
    new = load_manifest(model_dir(replay.root, weeks[WEEKS[1]]["model"]))
    old = replay.initial_model
    assert new.previous_model == old.model_version and new.refit_reason == refits[WEEKS[1]]
    # Axes in both models keep their segments; an axis the refit fits for the first time (its customers now
    # support it) starts new identities.
    assert set(old.axes) & set(new.axes)
    for axis, fitted in new.axes.items():
        if axis not in old.axes:
            continue
        matched = fitted.lineage["matched"]
        assert matched, f"{axis}: no segment kept its identity"
        before = dict(zip(old.axes[axis].segment_ids, old.axes[axis].names, strict=True))
        after = dict(zip(fitted.segment_ids, fitted.names, strict=True))
        for sid in matched:
            assert sid in before and after[sid] == before[sid]
    # The week after the refit scores with the new model; the weeks before kept theirs.
    assert [w["model"] for w in weeks.values()] == [old.model_version, new.model_version]


def rounded(col: Column, dtype: T.DataType, digits: int = 9) -> Column:
    """`col` with every double in it (maps, arrays, structs included) rounded: sums of doubles may differ in
    their last bit from one evaluation to the next (Spark adds partial sums in the order tasks finish)."""
    if isinstance(dtype, T.DoubleType):
        return F.round(col, digits)
    if isinstance(dtype, T.MapType):
        return F.transform_values(col, lambda _, v: rounded(v, dtype.valueType, digits))
    if isinstance(dtype, T.ArrayType):
        return F.transform(col, lambda v: rounded(v, dtype.elementType, digits))
    if isinstance(dtype, T.StructType):
        return F.struct(*[rounded(col[f.name], f.dataType, digits).alias(f.name) for f in dtype.fields])
    return col


def comparable(df: DataFrame) -> DataFrame:
    """Every column, doubles rounded to 1e-9."""
    return df.select(*[rounded(F.col(f.name), f.dataType).alias(f.name) for f in df.schema.fields])


KEYS = {
    "customer_profiles": ["customer_id"],
    "drift": ["customer_id", "baseline_date"],
    "drift_population": ["baseline_date", "kind", "axis", "from_segment", "to_segment"],
    "customer_state": ["customer_id"],
}


def test_rerunning_a_week_changes_nothing(spark: SparkSession, replay: Replay) -> None:
    day = WEEKS[-1]
    tables = tuple(KEYS)
    frames = {t: comparable(_table(spark, replay.root, t, day).drop("snapshot_date")).orderBy(*KEYS[t]) for t in tables}
    # Held on the driver (small here): the rerun replaces the files these were read from.
    before = {t: spark.createDataFrame(df.collect(), df.schema) for t, df in frames.items()}
    markers = {t: committed(spark, root=replay.root, table=t, key="snapshot_date")[day.isoformat()] for t in tables}
    config_file = Path(replay.config.origins[-1])
    assert main(bundle_weekly_command(config_file, day)) == 0
    assert newest_summary(replay.root)["weeks"][day.isoformat()]["complete_already"]
    assert {
        t: committed(spark, root=replay.root, table=t, key="snapshot_date")[day.isoformat()] for t in tables
    } == markers
    forced = run_week(make_context(replay.config), day, force=True)
    assert not forced.refit_reasons and forced.baselines_computed == []
    for t in tables:
        after = comparable(_table(spark, replay.root, t, day).drop("snapshot_date")).orderBy(*KEYS[t])
        assert_df_equality(before[t], after, ignore_nullable=True, allow_nan_equality=True)
