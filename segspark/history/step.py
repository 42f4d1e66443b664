"""The drift step: customer_profiles of D and its baselines -> drift/ and drift_population/ of D."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segspark.exc import MissingInputError, SegsparkError
from segspark.history.baselines import TREND_OFFSETS, Baseline, plan_baselines, trend_dates
from segspark.history.drift import DRIFT_INPUTS, TREND, DriftRules, Segments, baselines_drift, tag_baseline, trend
from segspark.history.population import baselines_population, flows_by_baseline, mean_memberships_by, psi
from segspark.model.manifest import Manifest, load_manifest, model_dir
from segspark.score.step import PROFILES
from segspark.tables import Commit, committed, read_partitions, write_partition

log = logging.getLogger(__name__)


@dataclass
class DriftResult:
    """What the step wrote, with the small summary `segspark run` prints."""

    as_of: date
    baselines: list[str]
    commit: Commit
    population_commit: Commit
    summary: dict[str, Any] = field(default_factory=dict)
    plan: list[Baseline] = field(default_factory=list)
    trend_dates: dict[int, str] | None = None

    def skipped(self) -> dict[int, str]:
        """Configured offsets without a baseline, with the reason."""
        return {b.offset: b.reason for b in self.plan if b.used is None}


def backfill_dates(as_of: date, offsets: Sequence[int]) -> list[date]:
    """as_of and the dates `offsets` days before it, newest first, without repeats."""
    days = sorted({0, *(int(o) for o in offsets)})
    if any(d < 0 for d in days):
        raise SegsparkError(f"backfill offsets must be positive day counts, got {list(offsets)}")
    return [as_of - timedelta(days=d) for d in days]


def _segments(m: Manifest) -> dict[str, list[str]]:
    return {a: list(ax.segment_ids) for a, ax in m.axes.items()}


def _trends(
    spark: SparkSession,
    dates: Mapping[int, str] | None,
    snapshot: Callable[[str], DataFrame],
    model_of: Callable[[str], Manifest],
    min_decline: float,
) -> DataFrame:
    """customer_id, trend (axis -> segment -> short/long/acceleration), when all four snapshots are served."""
    empty_type = T.MapType(T.StringType(), T.MapType(T.StringType(), TREND))
    days = [dates[o] for o in TREND_OFFSETS] if dates else []
    if not days:
        return spark.createDataFrame(
            [], T.StructType([T.StructField("customer_id", T.StringType()), T.StructField("trend", empty_type)])
        )
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
                *[
                    p
                    for s in segs
                    for p in (F.lit(s), trend(m[7][a][s], m[14][a][s], m[90][a][s], m[180][a][s], min_decline))
                ]
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


def committed_days(spark: SparkSession, root: str) -> list[date]:
    """The dates of every committed profile snapshot."""
    return sorted(date.fromisoformat(d) for d in committed(spark, root=root, table=PROFILES, key="snapshot_date"))


def drift_plan(
    spark: SparkSession, *, root: str, as_of: date, cfg: Mapping[str, Any], first_order: date | None = None
) -> list[Baseline]:
    """The baselines of `as_of` (configured drift offsets and the trend's) among the committed snapshots."""
    offsets = {int(o) for o in cfg["baselines"]} | set(TREND_OFFSETS)
    return plan_baselines(
        as_of,
        offsets,
        committed_days(spark, root),
        tolerance_days=int(cfg["tolerance_days"]),
        tolerance_fraction=float(cfg["tolerance_fraction"]),
        first_order=first_order,
    )


def run_drift(
    spark: SparkSession,
    *,
    root: str,
    as_of: date,
    cfg: Mapping[str, Any],
    run_id: str,
    plan: Sequence[Baseline] | None = None,
) -> DriftResult:
    """Compare the profiles of `as_of` with each baseline of `plan` and commit drift/ and drift_population/.

    `plan` (default: `drift_plan` over the committed snapshots) says which snapshot serves each
    configured offset; offsets without one are reported in the result, not compared.
    Baselines scored with the same model are compared in one plan (one join of
    the current snapshot with all of them); a baseline of another model version
    gets a plan of its own, over the segments both models share.
    """
    day = as_of.isoformat()
    if as_of not in set(committed_days(spark, root)):
        raise MissingInputError(f"no committed profile snapshot {day}; run `segspark snapshot --as-of {day}` first")
    plan = list(plan) if plan is not None else drift_plan(spark, root=root, as_of=as_of, cfg=cfg)
    wanted = {int(o) for o in cfg["baselines"]}
    served = [b for b in plan if b.offset in wanted and b.used is not None]
    if not served:
        missing = [b for b in plan if b.offset in wanted]
        raise MissingInputError(
            f"no baseline snapshot for {day} ({'; '.join(f'{b.offset} days: {b.reason}' for b in missing)}); "
            f"run `segspark weekly --as-of {day}` or `segspark backfill --as-of {day}` to write them from order history"
        )
    rules = DriftRules.from_config(cfg)
    offsets = {b.used.isoformat(): b for b in served if b.used is not None}
    trend_at = trend_dates(plan)
    trend_days = {o: d.isoformat() for o, d in trend_at.items()} if trend_at else None
    days = list(dict.fromkeys([day, *offsets, *(trend_days.values() if trend_days else [])]))
    # Only the columns drift reads, and not cached: each snapshot is read several times below, but a
    # column-pruned Parquet scan is cheap, while caching seven snapshots of wide map columns exhausted a
    # 4 GiB driver heap at 85k customers (the cache builder's buffers are not under Spark's memory manager).
    snaps = read_partitions(spark, root=root, table=PROFILES, key="snapshot_date", values=days).select(
        "snapshot_date", "model_version", *DRIFT_INPUTS
    )
    manifests: dict[str, Manifest] = {}
    models = _models_of(snaps, root, days, manifests)

    def snapshot(d: str) -> DataFrame:
        return snaps.filter(F.col("snapshot_date") == F.lit(d)).drop("snapshot_date")

    current, current_model = snapshot(day), models[day]
    every_segment = {
        a: sorted({s for m in models.values() if a in m.axes for s in m.axes[a].segment_ids})
        for a in {a for m in models.values() for a in m.axes}
    }
    means = mean_memberships_by(snaps, every_segment, "snapshot_date")
    frames, population = [], []
    by_model: dict[str, list[str]] = {}
    for d in offsets:
        by_model.setdefault(models[d].model_version, []).append(d)
    elapsed = {d: b.days_elapsed(as_of) for d, b in offsets.items()}
    for dates in by_model.values():
        segments = Segments(_segments(current_model), _segments(models[dates[0]]))
        bases = _union([tag_baseline(snapshot(d), d, elapsed[d], offsets[d].offset) for d in dates])
        frames.append(
            baselines_drift(current, bases, segments=segments, archetype_axes=current_model.archetype_axes, rules=rules)
        )
        psi_rows = [(d, elapsed[d], a, v) for d in dates for a, v in psi(means[day], means.get(d, {}), segments)]
        population.append(baselines_population(current, bases, segments=segments, psi_rows=psi_rows))
    trends = _trends(spark, trend_days, snapshot, lambda d: models[d], float(cfg["trend_min_decline"]))
    drift = _union(frames).join(trends, "customer_id", how="left")
    commit = write_partition(drift, root=root, table="drift", key="snapshot_date", value=day, run_id=run_id)
    written = read_partitions(spark, root=root, table="drift", key="snapshot_date", values=[day]).drop("snapshot_date")
    pop = _union(population).unionByName(flows_by_baseline(written, int(cfg["top_flows"])))
    pop_commit = write_partition(
        pop, root=root, table="drift_population", key="snapshot_date", value=day, run_id=run_id
    )
    result = DriftResult(as_of, list(offsets), commit, pop_commit, plan=plan, trend_dates=trend_days)
    versions = {d: models[d].model_version for d in offsets}
    result.summary = drift_summary(spark, root, day, current_model, versions)
    return result


def _snapshot_versions(spark: SparkSession, root: str, days: list[str]) -> dict[str, str]:
    """The model version each of these profile snapshots was scored with (one small job)."""
    if not days:
        return {}
    snaps = read_partitions(spark, root=root, table=PROFILES, key="snapshot_date", values=days)
    rows = snaps.select("snapshot_date", "model_version").distinct().collect()  # one row per date
    return {str(r["snapshot_date"]): str(r["model_version"]) for r in rows}


def _union(frames: Sequence[DataFrame]) -> DataFrame:
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


def drift_summary(
    spark: SparkSession, root: str, day: str, model: Manifest, versions: Mapping[str, str] | None = None, top: int = 3
) -> dict[str, Any]:
    """Small aggregates of a committed drift partition, per baseline: alert counts, churn risks, migrations,
    the most common segment moves (named) and, for a baseline of another model version, how many customers'
    comparisons crossed the refit (compared over the shared segments only)."""
    drift = read_partitions(spark, root=root, table="drift", key="snapshot_date", values=[day])
    names = {(a, sid): n for a, ax in model.axes.items() for sid, n in zip(ax.segment_ids, ax.names, strict=True)}
    out: dict[str, Any] = {"baselines": {}}
    offset = F.col("baseline_offset") if "baseline_offset" in drift.columns else F.col("days_elapsed")
    counts = (
        drift.groupBy("baseline_date", offset.alias("offset"), "days_elapsed", "overall_alert", "churn_risk")
        .agg(F.count(F.lit(1)).alias("count"), F.count_if("migrated").alias("n_migrated"))
        .collect()  # a few rows per baseline
    )
    for r in counts:
        entry = out["baselines"].setdefault(
            r["baseline_date"], {"customers": 0, "migrated": 0, "alerts": {}, "churn": {}, "top_moves": []}
        )
        entry.update(offset=int(r["offset"]), days_elapsed=int(r["days_elapsed"]))
        entry["customers"] += r["count"]
        entry["migrated"] += r["n_migrated"]
        entry["alerts"][r["overall_alert"]] = entry["alerts"].get(r["overall_alert"], 0) + r["count"]
        risk = str(r["churn_risk"])
        entry["churn"][risk] = entry["churn"].get(risk, 0) + r["count"]
    if versions is None:
        versions = _snapshot_versions(spark, root, list(out["baselines"]))
    for base, entry in out["baselines"].items():
        baseline_model = versions.get(base, model.model_version)
        if baseline_model != model.model_version:
            # Every comparison against this baseline covers only the segments both models share.
            entry["across_refit"] = {
                "from_model": baseline_model,
                "to_model": model.model_version,
                "customers": entry["customers"],
            }
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
            entry["top_moves"].append(
                {
                    "axis": r["axis"],
                    "from": names.get((r["axis"], r["from"]), r["from"]),
                    "to": names.get((r["axis"], r["to"]), r["to"]),
                    "customers": r["count"],
                }
            )
    return out
