"""The drift step on a hand-made warehouse: baselines of two model versions, compared by the ids they share."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest
from pyspark.sql import SparkSession

from segspark.config import load_config
from segspark.history.step import run_drift
from segspark.model.manifest import save_manifest
from segspark.score.spark import PROFILE_SCHEMA
from segspark.tables import read_partitions, write_partition
from tests.hand_model import hand_manifest

FREQ_NOW = ["freq_s0", "freq_s1", "freq_s2"]
FREQ_OLD = ["freq_s0", "freq_s1", "freq_old"]  # the older model had no freq_s2; its freq_old matched nothing


def row(cid: str, version: str, freq_ids: list[str], freq: list[float], value: list[float]) -> tuple[Any, ...]:
    members = {
        "freq": dict(zip(freq_ids, freq, strict=True)),
        "value": dict(zip(["value_s0", "value_s1"], value, strict=True)),
    }
    dominant = {a: max(m, key=m.__getitem__) for a, m in members.items()}
    key = "|".join(dominant.values())
    tiers = {a: 1 for a in members}
    return (cid, version, key, key, False, members, members, dominant, {a: "strong" for a in members}, tiers, [0.0])


def save_two_models(warehouse: str) -> None:
    """The hand model (m-hand) and an older one (m-old) whose freq axis had freq_old instead of freq_s2."""
    now_model = hand_manifest()
    old_axis = dataclasses.replace(now_model.axes["freq"], segment_ids=FREQ_OLD)
    save_manifest(warehouse, now_model)
    save_manifest(
        warehouse, dataclasses.replace(now_model, model_version="m-old", axes={**now_model.axes, "freq": old_axis})
    )


def test_baselines_of_two_model_versions(spark: SparkSession, warehouse: str) -> None:
    save_two_models(warehouse)
    snapshots = {
        "2024-03-01": [
            row("C1", "m-hand", FREQ_NOW, [0.6, 0.3, 0.1], [0.5, 0.5]),
            row("C2", "m-hand", FREQ_NOW, [0.2, 0.2, 0.6], [0.9, 0.1]),
        ],
        "2024-02-23": [row("C1", "m-hand", FREQ_NOW, [0.6, 0.3, 0.1], [0.5, 0.5])],  # 7 days: unchanged
        "2024-02-16": [
            row("C1", "m-old", FREQ_OLD, [0.2, 0.6, 0.2], [0.5, 0.5]),  # 14 days, older model
            row("C2", "m-old", FREQ_OLD, [0.2, 0.2, 0.6], [0.1, 0.9]),
        ],
    }
    for day, rows in snapshots.items():
        write_partition(
            spark.createDataFrame(rows, PROFILE_SCHEMA),
            root=warehouse,
            table="customer_profiles",
            key="snapshot_date",
            value=day,
            run_id=f"r{day}",
        )
    cfg = {**dict(load_config().section("drift")), "baselines": [7, 14, 28]}  # no 28-day snapshot: skipped
    result = run_drift(spark, root=warehouse, as_of=date(2024, 3, 1), cfg=cfg, run_id="drift1")
    assert result.baselines == ["2024-02-23", "2024-02-16"]

    drift = read_partitions(spark, root=warehouse, table="drift", key="snapshot_date", values=["2024-03-01"])
    got = {(r.customer_id, r.baseline_date): r for r in drift.collect()}
    assert sorted(got) == [("C1", "2024-02-16"), ("C1", "2024-02-23"), ("C2", "2024-02-16")]
    same = got[("C1", "2024-02-23")]
    assert same.days_elapsed == 7 and same.velocity["freq"] == 0.0 and same.unmatched_segments == []
    older = got[("C1", "2024-02-16")]
    # Only the shared ids freq_s0 and freq_s1 are compared: sqrt(0.4^2 + 0.3^2) / 14 = 0.5 / 14.
    assert older.days_elapsed == 14
    assert older.velocity["freq"] == pytest.approx(0.5 / 14)
    assert set(older.change_per_day["freq"]) == {"freq_s0", "freq_s1"}
    assert older.unmatched_segments == ["freq:current:freq_s2", "freq:baseline:freq_old"]
    # C2 moved from value_s1 to value_s0: |0.9 - 0.1| * sqrt(2) / 14 on the value axis, and migrated.
    c2 = got[("C2", "2024-02-16")]
    assert c2.velocity["value"] == pytest.approx(0.8 * 2**0.5 / 14)
    assert c2.migrated and c2.overall_alert == "RAPID_DRIFT"

    pop = read_partitions(
        spark, root=warehouse, table="drift_population", key="snapshot_date", values=["2024-03-01"]
    ).collect()
    psi = {(r.baseline_date, r.axis): r.value for r in pop if r.kind == "psi"}
    assert psi[("2024-02-23", "freq")] > 0  # C2 is only in today's means
    assert set(psi) == {(b, a) for b in ("2024-02-23", "2024-02-16") for a in ("freq", "value")}
    moves = {
        (r.baseline_date, r.axis, r.from_segment, r.to_segment): r.customers for r in pop if r.kind == "transition"
    }
    assert moves[("2024-02-16", "value", "value_s1", "value_s0")] == 1
    assert moves[("2024-02-16", "freq", "freq_s1", "freq_s0")] == 1
    assert moves[("2024-02-23", "freq", "freq_s0", "freq_s0")] == 1


def test_trend_over_four_snapshots(spark: SparkSession, warehouse: str) -> None:
    """The trend reads the snapshots 7, 14, 90 and 180 days back, over the segments all four models share, for
    the customers present in all four."""
    save_two_models(warehouse)
    # C1's memberships by offset: freq_s0 0.72 -> 0.7 -> 0.6 -> 0.5 (falling, faster lately), freq_s1 rising,
    # value_s0 down 0.03 in the last week only. C2 is missing from the 90-day snapshot, C3 is new.
    c1 = {
        180: ([0.72, 0.1, 0.18], [0.5, 0.5]),
        90: ([0.7, 0.2, 0.1], [0.5, 0.5]),
        14: ([0.6, 0.3, 0.1], [0.5, 0.5]),
        7: ([0.5, 0.4, 0.1], [0.47, 0.53]),
        0: ([0.5, 0.4, 0.1], [0.4, 0.6]),
    }
    days = {0: "2024-07-01", 7: "2024-06-24", 14: "2024-06-17", 90: "2024-04-02", 180: "2024-01-03"}
    for offset, day in days.items():
        version, ids = ("m-old", FREQ_OLD) if offset == 180 else ("m-hand", FREQ_NOW)  # the oldest: another model
        rows = [row("C1", version, ids, *c1[offset])]
        if offset != 90:
            rows.append(row("C2", version, ids, [0.9, 0.05, 0.05], [0.9, 0.1]))
        if offset in (0, 7):
            rows.append(row("C3", version, ids, [0.1, 0.1, 0.8], [0.2, 0.8]))
        write_partition(
            spark.createDataFrame(rows, PROFILE_SCHEMA),
            root=warehouse,
            table="customer_profiles",
            key="snapshot_date",
            value=day,
            run_id=f"r{day}",
        )
    cfg = {**dict(load_config().section("drift")), "baselines": [7], "trend_min_decline": 0.05}
    result = run_drift(spark, root=warehouse, as_of=date(2024, 7, 1), cfg=cfg, run_id="trend1")
    assert result.trend_dates == {o: d for o, d in days.items() if o}

    drift = read_partitions(spark, root=warehouse, table="drift", key="snapshot_date", values=[days[0]])
    trends = {r.customer_id: r.trend for r in drift.collect()}
    assert set(trends) == {"C1", "C2", "C3"} and trends["C2"] is None and trends["C3"] is None
    got = trends["C1"]
    # freq_old (180 days) and freq_s2 (the others) are not shared by all four models: no trend for either.
    assert sorted(got) == ["freq", "value"] and sorted(got["freq"]) == ["freq_s0", "freq_s1"]
    s0 = got["freq"]["freq_s0"]  # short 0.5 - 0.6, long 0.7 - 0.72, acceleration -0.1 + 0.02
    assert (s0.short, s0.long, s0.acceleration) == pytest.approx((-0.1, -0.02, -0.08))
    assert s0.declining_accelerating
    s1 = got["freq"]["freq_s1"]  # rising: 0.4 - 0.3, 0.2 - 0.1
    assert (s1.short, s1.long, s1.acceleration, s1.declining_accelerating) == pytest.approx((0.1, 0.1, 0.0, False))
    v0 = got["value"]["value_s0"]  # falling and accelerating, but by less than the 0.05 floor
    assert (v0.short, v0.acceleration) == pytest.approx((-0.03, -0.03)) and not v0.declining_accelerating
