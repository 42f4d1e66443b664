"""What the report shows, gathered as small aggregates (never customer-sized data on the driver)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segspark.exc import MissingInputError
from segspark.model.manifest import AxisModel, Manifest
from segspark.tables import committed, read_partitions

log = logging.getLogger(__name__)

TOP_ARCHETYPES = 15
TOP_FLOWS = 15
CHURN_LIST = 25


@dataclass
class AxisView:
    """One fitted axis as the report shows it."""

    name: str
    model: AxisModel

    @property
    def segments(self) -> list[dict[str, Any]]:
        """Per segment: id, tier, name, interpretation, size and its share, centre in original units."""
        m = self.model
        total = max(sum(m.sizes), 1)
        return [
            {
                "id": sid,
                "tier": tier,
                "name": name,
                "interpretation": text,
                "size": size,
                "share": size / total,
                "centre": dict(zip(m.features, centre, strict=True)),
                "source": (m.name_sources[i] if i < len(m.name_sources) else m.name_source),
            }
            for i, (sid, tier, name, text, size, centre) in enumerate(
                zip(m.segment_ids, m.tiers, m.names, m.interpretations, m.sizes, m.centers_original, strict=True)
            )
        ]


@dataclass
class ReportData:
    """Everything one report renders: model, archetypes, drift and data quality."""

    run_id: str
    as_of: str
    manifest: Manifest
    customers: int
    archetypes: list[dict[str, Any]] = field(default_factory=list)
    drift: dict[str, Any] = field(default_factory=dict)
    flows: list[dict[str, Any]] = field(default_factory=list)
    churn: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    steps: dict[str, Any] = field(default_factory=dict)
    schedule: dict[str, Any] = field(default_factory=dict)  # a scheduled run's inputs, refit decision, baselines

    @property
    def axes(self) -> list[AxisView]:
        """The fitted axes in manifest order."""
        return [AxisView(name, ax) for name, ax in self.manifest.axes.items()]

    def segment_name(self, axis: str, segment: str | None) -> str:
        """A segment's name, or its id when the model does not know it."""
        ax = self.manifest.axes.get(axis)
        if ax is None or segment not in ax.segment_ids:
            return str(segment)
        return ax.names[ax.segment_ids.index(segment)]


def archetype_label(manifest: Manifest, key: str) -> str:
    """`name + name + ...` of an archetype key (segment ids joined by |)."""
    names = {sid: n for ax in manifest.axes.values() for sid, n in zip(ax.segment_ids, ax.names, strict=True)}
    return " + ".join(names.get(sid, sid) for sid in key.split("|"))


def top_archetypes(profiles: DataFrame, manifest: Manifest, top: int = TOP_ARCHETYPES) -> list[dict[str, Any]]:
    """The most common archetypes of a profiles partition with their share and a readable label."""
    rows = (
        profiles.groupBy("archetype_id", "archetype_key")
        .agg(F.count(F.lit(1)).alias("customers"))
        .orderBy(F.desc("customers"), "archetype_id")
        .limit(top)
        .collect()  # at most `top` rows
    )
    return [
        {"id": r["archetype_id"], "customers": r["customers"], "label": archetype_label(manifest, r["archetype_key"])}
        for r in rows
    ]


def rejects_by_reason(rejects: DataFrame) -> list[dict[str, Any]]:
    """Counts of quarantined lines per kind and reason."""
    rows = rejects.groupBy("kind", "reason").count().orderBy("kind", F.desc("count"), "reason").collect()  # few
    return [{"kind": r["kind"], "reason": r["reason"], "lines": r["count"]} for r in rows]


def churn_list(drift: DataFrame, frequency_axis: str, limit: int = CHURN_LIST) -> list[dict[str, Any]]:
    """HIGH churn-risk customers of the most recent baseline, fastest-moving on the frequency axis first."""
    newest = drift.agg(F.min("days_elapsed")).first()
    if newest is None or newest[0] is None:
        return []
    rows = (
        drift.filter((F.col("days_elapsed") == newest[0]) & (F.col("churn_risk") == "HIGH"))
        .select(
            "customer_id",
            "baseline_date",
            F.col("velocity")[frequency_axis].alias("velocity"),
            F.col("alert")[frequency_axis].alias("alert"),
            "from_archetype",
            "to_archetype",
        )
        .orderBy(F.desc_nulls_last("velocity"), "customer_id")
        .limit(limit)
        .collect()  # at most `limit` rows
    )
    return [r.asDict() for r in rows]


def flows(
    population: DataFrame, manifest: Manifest, top: int = TOP_FLOWS, profiles: DataFrame | None = None
) -> list[dict[str, Any]]:
    """The largest archetype migrations of the most recent baseline, labelled.

    An archetype's key comes from the manifest's most common ones, else from `profiles` (archetype_id,
    archetype_key) for just the ids the flows name.
    """
    arche = population.filter(F.col("kind") == "archetype_flow")
    newest = arche.agg(F.min("days_elapsed")).first()
    if newest is None or newest[0] is None:
        return []
    keys = {a["archetype_id"]: a["key"] for a in manifest.archetypes}
    rows = (
        arche.filter(F.col("days_elapsed") == newest[0])
        .orderBy(F.desc("customers"), "from_segment", "to_segment")
        .limit(top)
        .collect()  # at most `top` rows
    )
    unknown = sorted({r[c] for r in rows for c in ("from_segment", "to_segment")} - set(keys) - {None})
    if unknown and profiles is not None:
        found = profiles.filter(F.col("archetype_id").isin(unknown)).select("archetype_id", "archetype_key").distinct()
        keys.update({r["archetype_id"]: r["archetype_key"] for r in found.collect()})  # at most 2 x `top` rows
    return [
        {
            "baseline": r["baseline_date"],
            "from": r["from_segment"],
            "to": r["to_segment"],
            "customers": r["customers"],
            "moves": archetype_moves(manifest, keys.get(r["from_segment"]), keys.get(r["to_segment"])),
        }
        for r in rows
    ]


def archetype_moves(manifest: Manifest, before: str | None, after: str | None) -> list[str]:
    """What changed between two archetype keys, axis by axis (`axis: from -> to`, named).

    Archetypes first seen after the fit have no key in the manifest; the move is then unknown ([]).
    """
    if before is None or after is None:
        return []
    owner = {
        sid: (axis, n) for axis, ax in manifest.axes.items() for sid, n in zip(ax.segment_ids, ax.names, strict=True)
    }
    return [
        f"{owner[a][0] if a in owner else '?'}: {owner.get(a, (a, a))[1]} → {owner.get(b, (b, b))[1]}"
        for a, b in zip(before.split("|"), after.split("|"), strict=False)
        if a != b
    ]


def _optional(spark: SparkSession, root: str, table: str, key: str, value: str) -> DataFrame | None:
    if value not in committed(spark, root=root, table=table, key=key):
        return None
    return read_partitions(spark, root=root, table=table, key=key, values=[value])


def gather(
    spark: SparkSession,
    *,
    root: str,
    as_of: str,
    manifest: Manifest,
    run_id: str,
    frequency_axis: str,
    steps: dict[str, Any] | None = None,
    baselines: list[int] | None = None,
    schedule: dict[str, Any] | None = None,
    skips: list[str] | None = None,
) -> ReportData:
    """Read the committed outputs of `as_of` and aggregate what the report needs.

    Profiles are required; drift and rejects are shown when present, with a note when not.
    """
    profiles = _optional(spark, root, "customer_profiles", "snapshot_date", as_of)
    if profiles is None:
        raise MissingInputError(f"no customer_profiles for {as_of} under {root}; run `segspark score` first")
    profiles = profiles.select("customer_id", "archetype_id", "archetype_key").cache()
    try:
        data = ReportData(
            run_id, as_of, manifest, customers=profiles.count(), steps=dict(steps or {}), schedule=dict(schedule or {})
        )
        data.archetypes = top_archetypes(profiles, manifest)
    finally:
        profiles.unpersist()
    from segspark.history.step import drift_summary

    drift = _optional(spark, root, "drift", "snapshot_date", as_of)
    if drift is None:
        data.notes.append(f"No drift for {as_of}: run `segspark backfill` and `segspark drift` to see it.")
    else:
        data.drift = drift_summary(spark, root, as_of, manifest)
        served = {e.get("offset") for e in data.drift.get("baselines", {}).values()}
        unserved = [o for o in (baselines or []) if o not in served] if not (schedule or skips) else []
        data.notes += [
            f"No baseline for {o} days before {as_of}: no snapshot within the drift tolerance, or before the "
            "source's first order."
            for o in unserved
        ]
        data.churn = churn_list(drift, frequency_axis)
        population = _optional(spark, root, "drift_population", "snapshot_date", as_of)
        data.flows = flows(population, manifest, profiles=profiles) if population is not None else []
    # What the run skipped, with its reasons (backfill dates, baselines), as the run said them.
    data.notes += list(skips or [])
    rejects = _optional(spark, root, "rejects", "source", manifest.source)
    if rejects is None:
        data.notes.append(f"No rejects table for source {manifest.source}: data quality is not shown.")
    else:
        data.rejects = rejects_by_reason(rejects)
    return data


def segment_catalogue(manifest: Manifest) -> list[dict[str, Any]]:
    """One row per segment of every fitted axis: axis, id, tier, name, customers, interpretation."""
    return [
        {
            "axis": view.name,
            "segment": s["id"],
            "tier": s["tier"],
            "name": s["name"],
            "customers": s["size"],
            "interpretation": s["interpretation"],
        }
        for view in (AxisView(name, ax) for name, ax in manifest.axes.items())
        for s in view.segments
    ]
