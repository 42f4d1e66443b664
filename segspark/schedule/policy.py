"""When a scheduled run refits the model (SPEC section 7, operation on a schedule).

Three triggers, each configurable and each can be switched off with 0:

- age: the model is `refit_every_weeks` weeks old or older;
- population shift: an axis's PSI between the current snapshot and the model's
  fit snapshot (mean memberships, as in drift_population) exceeds `refit_psi`;
- cluster quality: an axis's silhouette on the current snapshot fell more than
  `refit_silhouette_drop` below its value on the fit snapshot.

The silhouette here is the simplified (centroid) silhouette in squared
distances, s = (b^2 - a^2) / b^2 with a the distance to the own (nearest) centre
and b to the second nearest: it is read from each profile's stored distances in
one aggregate, without refitting or rescaling anything, and is compared only
with the same measure on the fit snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segspark.history.drift import Segments
from segspark.history.population import mean_memberships, psi
from segspark.model.manifest import Manifest


@dataclass(frozen=True)
class RefitPolicy:
    """The `schedule` section's refit triggers (0 switches one off)."""

    every_weeks: int = 4
    psi: float = 0.25
    silhouette_drop: float = 0.1

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> RefitPolicy:
        """Read the triggers from the `schedule` config section."""
        return cls(int(cfg["refit_every_weeks"]), float(cfg["refit_psi"]), float(cfg["refit_silhouette_drop"]))


@dataclass(frozen=True)
class ModelHealth:
    """How the current model fits the current snapshot."""

    model_version: str
    weeks_since_fit: float
    psi: dict[str, float] = field(default_factory=dict)
    silhouette_fit: dict[str, float] = field(default_factory=dict)
    silhouette_now: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def refit_reasons(health: ModelHealth, policy: RefitPolicy) -> list[str]:
    """Why the model should be refitted (empty: keep it)."""
    reasons = []
    if policy.every_weeks > 0 and health.weeks_since_fit >= policy.every_weeks:
        reasons.append(f"model is {health.weeks_since_fit:.1f} weeks old (refit_every_weeks={policy.every_weeks})")
    if policy.psi > 0:
        shifted = {a: v for a, v in health.psi.items() if v > policy.psi}
        reasons += [f"{a}: PSI {v:.3f} against the fit population > {policy.psi}" for a, v in sorted(shifted.items())]
    if policy.silhouette_drop > 0:
        for axis, then in sorted(health.silhouette_fit.items()):
            now = health.silhouette_now.get(axis)
            if now is not None and then - now > policy.silhouette_drop:
                reasons.append(
                    f"{axis}: silhouette {now:.3f}, down from {then:.3f} at fit (> {policy.silhouette_drop})"
                )
    return reasons


def _axis_silhouette(distances: Column) -> Column:
    """Simplified squared silhouette of one customer on one axis from its distances to the centres."""
    ordered = F.array_sort(F.map_values(distances))
    a, b = ordered[0] * ordered[0], ordered[1] * ordered[1]
    return F.when(F.size(ordered) < 2, F.lit(None)).when(b <= 0, F.lit(0.0)).otherwise((b - a) / b)


def simplified_silhouettes(profiles: DataFrame, axes: Sequence[str]) -> dict[str, float]:
    """Mean simplified silhouette per axis over a profile snapshot (one aggregate job)."""
    if not axes:
        return {}
    aggs = [F.avg(_axis_silhouette(F.col("segment_distances")[a])).alias(f"s{i}") for i, a in enumerate(axes)]
    row = profiles.agg(*aggs).first()  # one row
    if row is None:
        return {}
    return {a: float(row[f"s{i}"]) for i, a in enumerate(axes) if row[f"s{i}"] is not None}


def model_health(now: DataFrame, fit: DataFrame | None, manifest: Manifest, as_of: date) -> ModelHealth:
    """Health of `manifest` on the profile snapshot `now`, against its fit snapshot `fit` (when committed)."""
    weeks = (as_of - date.fromisoformat(manifest.as_of)).days / 7
    axes = list(manifest.axes)
    health = ModelHealth(manifest.model_version, weeks)
    if fit is None:
        health.notes.append(f"the fit snapshot {manifest.as_of} is not committed: PSI and silhouette not checked")
        return health
    segments = {a: list(ax.segment_ids) for a, ax in manifest.axes.items()}
    shift = psi(mean_memberships(now, segments), mean_memberships(fit, segments), Segments(segments, segments))
    health.psi.update(shift)
    health.silhouette_now.update(simplified_silhouettes(now, axes))
    health.silhouette_fit.update(simplified_silhouettes(fit, axes))
    return health
