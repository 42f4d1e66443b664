"""The drift step: customer_profiles of D and its baselines -> drift/ and drift_population/ of D."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segspark.exc import MissingInputError, SegsparkError
from segspark.history.drift import TREND, DriftRules, Segments, baselines_drift, tag_baseline, trend
from segspark.history.population import baselines_population, flows_by_baseline, mean_memberships_by, psi
from segspark.model.manifest import Manifest, load_manifest, model_dir
from segspark.score.step import PROFILES
from segspark.tables import Commit, committed, read_partitions, write_partition

log = logging.getLogger(__name__)

TREND_OFFSETS = (7, 14, 90, 180)  # short = m7 - m14, long = m90 - m180


@dataclass
class DriftResult:
    """What the step wrote, with the small summary `segspark run` prints."""

    as_of: date
    baselines: list[str]
    commit: Commit
    population_commit: Commit
    summary: dict[str, Any] = field(default_factory=dict)


def backfill_dates(as_of: date, offsets: Sequence[int]) -> list[date]:
    """as_of and the dates `offsets` days before it, newest first, without repeats."""
    days = sorted({0, *(int(o) for o in offsets)})
    if any(d < 0 for d in days):
        raise SegsparkError(f"backfill offsets must be positive day counts, got {list(offsets)}")
    return [as_of - timedelta(days=d) for d in days]


def _segments(m: Manifest) -> dict[str, list[str]]:
    return {a: list(ax.segment_ids) for a, ax in m.axes.items()}


def _trends(
    spark: SparkSession, as_of: date, available: set[str], snapshot: Callable[[str], DataFrame],
    model_of: Callable[[str], Manifest],
) -> DataFrame:  # fmt: skip
    """customer_id, trend (axis -> segment -> short/long/acceleration), when all four snapshots exist."""
    days = [(as_of - timedelta(days=o)).isoformat() for o in TREND_OFFSETS]
    empty_type = T.MapType(T.StringType(), T.MapType(T.StringType(), TREND))
    if not all(d in available for d in days):
        return spark.createDataFrame([], T.StructType([T.StructField("customer_id", T.StringType()),
                                                       T.StructField("trend", empty_type)]))  # fmt: skip
    manifests = [model_of(d) for d in days]
    shared = {
        a: [s for s in manifests[0].axes[a].segment_ids if all(s in m.axes[a].segment_ids for m in manifests[1:])]
        for a in manifests[0].axes
        if all(a in m.axes for m in manifests[1:])
    }
    frames = [
        snapshot(d).select("customer_id", F.col("segment_memberships").alias(f"m{o}"))
        for d, o in zip(days, TREND_OFFSETS, strict=True)
    ]
    joined = frames[0]
    for frame in frames[1:]:
        joined = joined.join(frame, "customer_id", how="inner")
    m = {o: F.col(f"m{o}") for o in TREND_OFFSETS}
    per_axis = [
        part
        for a, segs in shared.items()
        for part in (
            F.lit(a),
            F.create_map(
                *[p for s in segs for p in (F.lit(s), trend(m[7][a][s], m[14][a][s], m[90][a][s], m[180][a][s]))]
            ),
        )
    ]
    return joined.select("customer_id", F.create_map(*per_axis).cast(empty_type).alias("trend"))


def _models_of(snaps: DataFrame, root: str, days: Sequence[str], cache: dict[str, Manifest]) -> dict[str, Manifest]:
    """The model of each snapshot in `snaps` (one small job: a row per date and model version)."""
    versions: dict[str, list[str]] = {d: [] for d in days}
    for r in snaps.select("snapshot_date", "model_version").distinct().collect():  # a handful of rows
        versions[str(r["snapshot_date"])].append(r["model_version"])
    out = {}
    for d in days:
        if len(versions[d]) != 1:
            raise SegsparkError(f"profile snapshot {d} holds {len(versions[d])} model versions; expected exactly one")
        if versions[d][0] not in cache:
            cache[versions[d][0]] = load_manifest(model_dir(root, versions[d][0]))
        out[d] = cache[versions[d][0]]
    return out


def run_drift(spark: SparkSession, *, root: str, as_of: date, cfg: Mapping[str, Any], run_id: str) -> DriftResult:
    """Compare the profiles of `as_of` with each committed baseline and commit drift/ and drift_population/.

    Baselines scored with the same model are compared in one plan (one join of
    the current snapshot with all of them); a baseline of another model version
    gets a plan of its own, over the segments both models share.
    """
    available = set(committed(spark, root=root, table=PROFILES, key="snapshot_date"))
    day = as_of.isoformat()
    if day not in available:
        raise MissingInputError(f"no committed profile snapshot {day}; run `segspark snapshot --as-of {day}` first")
    wanted = [(int(o), (as_of - timedelta(days=int(o))).isoformat()) for o in cfg["baselines"]]
    baselines = [(o, d) for o, d in wanted if d in available]
    if not baselines:
        raise MissingInputError(
            f"no baseline snapshot for {day} (looked for {', '.join(d for _, d in wanted)}); "
            f"run `segspark backfill --as-of {day}` to write them from order history"
        )
    rules = DriftRules.from_config(cfg)
    offsets = {d: o for o, d in baselines}
    trend_days = [(as_of - timedelta(days=o)).isoformat() for o in TREND_OFFSETS]
    days = list(dict.fromkeys([day, *offsets, *(d for d in trend_days if d in available)]))
    # Every snapshot involved, read once and cached: each is read several times below (snapshots are
    # small next to the orders).
    snaps = read_partitions(spark, root=root, table=PROFILES, key="snapshot_date", values=days).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    try:
        manifests: dict[str, Manifest] = {}
        models = _models_of(snaps, root, days, manifests)

        def snapshot(d: str) -> DataFrame:
            return snaps.filter(F.col("snapshot_date") == F.lit(d)).drop("snapshot_date")

        current, current_model = snapshot(day), models[day]
        every_segment = {a: sorted({s for m in models.values() if a in m.axes for s in m.axes[a].segment_ids})
                         for a in {a for m in models.values() for a in m.axes}}  # fmt: skip
        means = mean_memberships_by(snaps, every_segment, "snapshot_date")
        frames, population = [], []
        by_model: dict[str, list[str]] = {}
        for d in offsets:
            by_model.setdefault(models[d].model_version, []).append(d)
        for dates in by_model.values():
            segments = Segments(_segments(current_model), _segments(models[dates[0]]))
            bases = _union([tag_baseline(snapshot(d), d, offsets[d]) for d in dates])
            frames.append(baselines_drift(current, bases, segments=segments,
                                          archetype_axes=current_model.archetype_axes, rules=rules))  # fmt: skip
            psi_rows = [(d, offsets[d], a, v) for d in dates for a, v in psi(means[day], means.get(d, {}), segments)]
            population.append(baselines_population(current, bases, segments=segments, psi_rows=psi_rows))
        trends = _trends(spark, as_of, available, snapshot, lambda d: models[d])
        drift = _union(frames).join(trends, "customer_id", how="left")
        commit = write_partition(drift, root=root, table="drift", key="snapshot_date", value=day, run_id=run_id)
        written = read_partitions(spark, root=root, table="drift", key="snapshot_date", values=[day]).drop(
            "snapshot_date"
        )
        pop = _union(population).unionByName(flows_by_baseline(written, int(cfg["top_flows"])))
        pop_commit = write_partition(pop, root=root, table="drift_population", key="snapshot_date", value=day,
                                     run_id=run_id)  # fmt: skip
    finally:
        snaps.unpersist()
    result = DriftResult(as_of, [d for _, d in baselines], commit, pop_commit)
    result.summary = drift_summary(spark, root, day, current_model)
    return result


def _union(frames: Sequence[DataFrame]) -> DataFrame:
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


def drift_summary(spark: SparkSession, root: str, day: str, model: Manifest, top: int = 3) -> dict[str, Any]:
    """Small aggregates of a committed drift partition, per baseline: alert counts, churn risks, migrations and
    the most common segment moves (named)."""
    drift = read_partitions(spark, root=root, table="drift", key="snapshot_date", values=[day])
    names = {(a, sid): n for a, ax in model.axes.items() for sid, n in zip(ax.segment_ids, ax.names, strict=True)}
    out: dict[str, Any] = {"baselines": {}}
    counts = drift.groupBy("baseline_date", "overall_alert", "churn_risk", "migrated").count().collect()  # few rows
    for r in counts:
        entry = out["baselines"].setdefault(
            r["baseline_date"], {"customers": 0, "migrated": 0, "alerts": {}, "churn": {}, "top_moves": []}
        )
        entry["customers"] += r["count"]
        entry["migrated"] += r["count"] if r["migrated"] else 0
        entry["alerts"][r["overall_alert"]] = entry["alerts"].get(r["overall_alert"], 0) + r["count"]
        risk = str(r["churn_risk"])
        entry["churn"][risk] = entry["churn"].get(risk, 0) + r["count"]
    moves = (
        drift.select("baseline_date", F.explode("axes_changed").alias("c"))
        .groupBy("baseline_date", "c.axis", "c.from", "c.to")
        .count()
        .orderBy("baseline_date", F.desc("count"), "axis", "from", "to")
        .collect()  # at most (axes x segments^2) rows per baseline
    )
    for r in moves:
        entry = out["baselines"][r["baseline_date"]]
        if len(entry["top_moves"]) < top:
            entry["top_moves"].append({
                "axis": r["axis"], "from": names.get((r["axis"], r["from"]), r["from"]),
                "to": names.get((r["axis"], r["to"]), r["to"]), "customers": r["count"],
            })  # fmt: skip
    return out
