"""Step results as the lines a person reads: the commands and pipelines send these through `ctx.say`."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from segspark.features.step import FeatureResult
from segspark.history.step import DriftResult
from segspark.model.manifest import Manifest
from segspark.score.step import ScoreResult


def features_lines(result: FeatureResult, *, detail: bool = True) -> list[str]:
    """Customers and features of a snapshot, then per axis its features or why it was skipped."""
    out = [f"features as of {result.as_of}: {result.customers:,} customers, {len(result.plan.columns)} features"]
    if detail:
        out += [f"  {axis.name:<26} {', '.join(axis.features)}" for axis in result.plan.axes]
        out += [f"  {name:<26} skipped: {reason}" for name, reason in result.plan.skipped.items()]
    return out


def model_lines(manifest: Manifest, *, reported: Collection[str] = ()) -> list[str]:
    """Per axis the chosen k and silhouette, then per segment its id, size and name; then the axes skipped
    (except those `reported` already) and features left out, with the reasons."""
    observed = manifest.archetype_count or len(manifest.archetypes)
    out = [f"model {manifest.model_version}: {len(manifest.axes)} axes, {observed:,} observed archetypes"]
    if manifest.refit_reason:
        out.append(f"  refitted because: {'; '.join(manifest.refit_reason)}")
    for name, why in manifest.skipped_axes.items():
        if name not in reported:
            out.append(f"  {name:<26} skipped: {why}")
    for col, why in manifest.dropped_features.items():
        out.append(f"  {col} left out: {why}")
    for name, axis in manifest.axes.items():
        sil = axis.silhouette_by_k[str(axis.k)]
        flag = "  (weak: below min_silhouette)" if axis.warnings else ""
        out.append(f"  {name:<26} k={axis.k} silhouette={sil:.3f}{flag}")
        for sid, seg, size in zip(axis.segment_ids, axis.names, axis.sizes, strict=True):
            out.append(f"      {sid:<34} {size:>8,}  {seg}")
    return out


def score_lines(result: ScoreResult) -> list[str]:
    """One line: customers scored and with which model."""
    return [
        f"profiles as of {result.as_of}: {result.commit.row_count:,} customers scored with model {result.model_version}"
    ]


def drift_summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """Counts per alert level, top migrations and high churn risks, per baseline."""
    out = []
    for base, entry in sorted(summary.get("baselines", {}).items(), reverse=True):
        alerts = ", ".join(f"{k} {v:,}" for k, v in sorted(entry["alerts"].items()))
        served = f" ({entry['days_elapsed']} days, for {entry['offset']})" if "offset" in entry else ""
        out.append(
            f"  vs {base}{served}: {entry['customers']:,} customers; {alerts}; "
            f"migrated {entry['migrated']:,}; churn risk HIGH {entry['churn'].get('HIGH', 0):,}"
        )
        if "across_refit" in entry:
            refit = entry["across_refit"]
            out.append(
                f"      across a refit ({refit['from_model']} -> {refit['to_model']}): "
                f"{refit['customers']:,} customers compared on the segments both models share"
            )
        for move in entry.get("top_moves", []):
            out.append(f"      {move['customers']:>6,}  {move['axis']}: {move['from']} -> {move['to']}")
    return out


def drift_lines(result: DriftResult) -> list[str]:
    """Rows written, then the per-baseline summary, the skipped offsets and whether trend was computed."""
    out = [f"drift as of {result.as_of} against {len(result.baselines)} baseline(s): {result.commit.row_count:,} rows"]
    out += drift_summary_lines(result.summary)
    out += [f"  baseline {o} days skipped: {reason}" for o, reason in sorted(result.skipped().items())]
    if result.trend_dates:
        out.append(f"  trend from {', '.join(f'{o}d={d}' for o, d in sorted(result.trend_dates.items()))}")
    else:
        out.append("  trend: not computed (needs snapshots serving 7, 14, 90 and 180 days)")
    return out


def dates_text(days: list[date]) -> str:
    """A short list of dates."""
    return ", ".join(d.isoformat() for d in days) or "none"
