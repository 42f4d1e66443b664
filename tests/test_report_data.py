"""The report's aggregates, gathered from a hand-made warehouse whose every count is known: customers, top
archetypes, alerts and churn per baseline, segment moves, the churn list, archetype flows and rejects."""

from __future__ import annotations

from typing import Any

from pyspark.sql import SparkSession

from segspark.history.population import POPULATION
from segspark.model.manifest import save_manifest
from segspark.report.data import gather
from segspark.score.spark import PROFILE_SCHEMA
from segspark.tables import write_partition
from tests.hand_model import hand_manifest

DAY, WEEK_AGO, TWO_WEEKS_AGO = "2024-03-01", "2024-02-23", "2024-02-16"
DRIFT = (
    "customer_id string, baseline_date string, baseline_offset int, days_elapsed int, overall_alert string, "
    "churn_risk string, migrated boolean, velocity map<string,double>, alert map<string,string>, "
    "from_archetype string, to_archetype string, axes_changed array<struct<axis:string,from:string,to:string>>"
)


def _profile(cid: str, version: str, key: str) -> tuple[Any, ...]:
    return (cid, version, f"id:{key}", key, False, {}, {}, {}, {}, {}, [0.0])


def _drift(cid: str, base: str, alert: str, risk: str, velocity: float | None, moves: list[tuple[str, str]]) -> tuple:
    days = 7 if base == WEEK_AGO else 14
    changed = [("freq", a, b) for a, b in moves]
    return (
        cid,
        base,
        days,
        days,
        alert,
        risk,
        bool(moves),
        {"freq": velocity},
        {"freq": alert},
        "id:x",
        "id:y",
        changed,
    )


def test_gather_counts_what_the_tables_hold(spark: SparkSession, warehouse: str) -> None:
    manifest = hand_manifest()
    manifest.archetypes = [
        {"archetype_id": f"id:{k}", "key": k, "segments": {}, "count": 1}
        for k in ("freq_s0|value_s0", "freq_s1|value_s1")
    ]
    save_manifest(warehouse, manifest)
    # Today: archetype freq_s0|value_s0 x3, freq_s1|value_s1 x2, freq_s2|value_s0 x1 (not in the manifest).
    keys = ["freq_s0|value_s0"] * 3 + ["freq_s1|value_s1"] * 2 + ["freq_s2|value_s0"]
    today = [_profile(f"C{i}", manifest.model_version, k) for i, k in enumerate(keys)]
    write_partition(
        spark.createDataFrame(today, PROFILE_SCHEMA),
        root=warehouse,
        table="customer_profiles",
        key="snapshot_date",
        value=DAY,
        run_id="r",
    )
    for base, version in ((WEEK_AGO, manifest.model_version), (TWO_WEEKS_AGO, "m-old")):
        rows = [_profile(f"C{i}", version, "freq_s0|value_s0") for i in range(6)]
        write_partition(
            spark.createDataFrame(rows, PROFILE_SCHEMA),
            root=warehouse,
            table="customer_profiles",
            key="snapshot_date",
            value=base,
            run_id="r",
        )
    s0, s1, s2 = "freq_s0", "freq_s1", "freq_s2"
    drift = [
        _drift("C0", WEEK_AGO, "STABLE", "LOW", 0.0, []),
        _drift("C1", WEEK_AGO, "RAPID_DRIFT", "HIGH", 0.03, [(s0, s1)]),
        _drift("C2", WEEK_AGO, "RAPID_DRIFT", "HIGH", 0.05, [(s0, s1)]),
        _drift("C3", WEEK_AGO, "MODERATE_DRIFT", "HIGH", None, [(s0, s2)]),
        _drift("C4", WEEK_AGO, "MODERATE_DRIFT", "MEDIUM", 0.01, [(s1, s0)]),
        _drift("C5", TWO_WEEKS_AGO, "RAPID_DRIFT", "HIGH", 0.09, [(s0, s1)]),  # older baseline: not listed
    ]
    write_partition(
        spark.createDataFrame(drift, DRIFT), root=warehouse, table="drift", key="snapshot_date", value=DAY, run_id="r"
    )
    population = [
        (WEEK_AGO, 7, "archetype_flow", None, "id:freq_s0|value_s0", "id:freq_s1|value_s1", 2, None),
        (WEEK_AGO, 7, "archetype_flow", None, "id:freq_s0|value_s0", "id:freq_s2|value_s0", 1, None),
        (TWO_WEEKS_AGO, 14, "archetype_flow", None, "id:freq_s0|value_s0", "id:freq_s1|value_s1", 5, None),
        (WEEK_AGO, 7, "psi", "freq", None, None, None, 0.1),
    ]
    write_partition(
        spark.createDataFrame(population, POPULATION),
        root=warehouse,
        table="drift_population",
        key="snapshot_date",
        value=DAY,
        run_id="r",
    )
    rejects = spark.createDataFrame(
        [("malformed", "negative_price")] * 3 + [("malformed", "missing_customer")] + [("out_of_scope", "return")] * 2,
        "kind string, reason string",
    )
    write_partition(rejects, root=warehouse, table="rejects", key="source", value=manifest.source, run_id="r")

    data = gather(
        spark, root=warehouse, as_of=DAY, manifest=manifest, run_id="r", frequency_axis="freq", baselines=[7, 14, 28]
    )

    assert data.customers == 6
    assert [(a["id"], a["customers"], a["label"]) for a in data.archetypes] == [
        ("id:freq_s0|value_s0", 3, "segment 0 + segment 0"),
        ("id:freq_s1|value_s1", 2, "segment 1 + segment 1"),
        ("id:freq_s2|value_s0", 1, "segment 2 + segment 0"),
    ]
    week, older = data.drift["baselines"][WEEK_AGO], data.drift["baselines"][TWO_WEEKS_AGO]
    assert (week["customers"], week["migrated"], week["offset"], week["days_elapsed"]) == (5, 4, 7, 7)
    assert week["alerts"] == {"STABLE": 1, "RAPID_DRIFT": 2, "MODERATE_DRIFT": 2}
    assert week["churn"] == {"LOW": 1, "HIGH": 3, "MEDIUM": 1}
    assert week["top_moves"][0] == {"axis": "freq", "from": "segment 0", "to": "segment 1", "customers": 2}
    assert len(week["top_moves"]) == 3 and "across_refit" not in week
    assert older["customers"] == 1 and older["across_refit"]["from_model"] == "m-old"
    # The churn list: HIGH risk at the newest baseline only, fastest first, an unknown velocity last.
    assert [(c["customer_id"], c["velocity"]) for c in data.churn] == [("C2", 0.05), ("C1", 0.03), ("C3", None)]
    # Flows of the newest baseline, largest first; the archetype the manifest lacks is named from the profiles.
    assert [(f["from"], f["to"], f["customers"]) for f in data.flows] == [
        ("id:freq_s0|value_s0", "id:freq_s1|value_s1", 2),
        ("id:freq_s0|value_s0", "id:freq_s2|value_s0", 1),
    ]
    assert data.flows[1]["moves"] == ["freq: segment 0 → segment 2"]
    assert data.rejects == [
        {"kind": "malformed", "reason": "negative_price", "lines": 3},
        {"kind": "malformed", "reason": "missing_customer", "lines": 1},
        {"kind": "out_of_scope", "reason": "return", "lines": 2},
    ]
    # 28 days has no snapshot: the report says so.
    assert any(n.startswith("No baseline for 28 days before 2024-03-01") for n in data.notes)
