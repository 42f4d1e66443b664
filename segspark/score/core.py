"""The scoring mathematics as pure numpy (SPEC section 5): no Spark, no pandas.

Given raw feature values and a model, for every axis: impute, transform, scale,
Euclidean distance to every centre, memberships exp(-d_i) / sum_j exp(-d_j)
(stable: the smallest distance is subtracted first), dominant segment, strength
and tier; over the archetype axes the archetype key and id; over all axes the
fingerprint (every distance in fixed axis, segment order).

The Spark pass (`segspark.score.spark`) runs exactly these functions on Arrow
batches, so a customer scored in Spark equals the same customer scored here.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from segspark.model.assign import distances as axis_distances
from segspark.model.identity import archetype_id, archetype_key
from segspark.model.manifest import AxisModel, Manifest

STRENGTHS = ("strong", "balanced", "weak")
STRONG_PRIMARY = 0.7
BALANCED_PRIMARY = 0.4
BALANCED_SECONDARY = 0.3


def memberships(distances: np.ndarray) -> np.ndarray:
    """Row-wise exp(-d_i) / sum_j exp(-d_j) of an n x k distance matrix; rows sum to 1.

    Subtracting each row's smallest distance first keeps the largest term at
    exp(0) = 1, so no distance, however large, gives an overflow or a 0/0.
    """
    d = np.asarray(distances, dtype=float)
    w = np.exp(-(d - d.min(axis=1, keepdims=True)))
    return np.asarray(w / w.sum(axis=1, keepdims=True), dtype=float)


def strength_codes(member: np.ndarray) -> np.ndarray:
    """Index into STRENGTHS per row.

    strong if primary > 0.7; balanced if primary > 0.4 and secondary > 0.3; else weak.
    """
    m = np.asarray(member, dtype=float)
    top = np.sort(m, axis=1)[:, ::-1]
    primary = top[:, 0]
    secondary = top[:, 1] if m.shape[1] > 1 else np.zeros(m.shape[0])
    balanced = (primary > BALANCED_PRIMARY) & (secondary > BALANCED_SECONDARY)
    return np.where(primary > STRONG_PRIMARY, 0, np.where(balanced, 1, 2)).astype(np.int8)


@dataclass(frozen=True)
class AxisScores:
    """One axis's scores for n customers."""

    distances: np.ndarray  # n x k
    memberships: np.ndarray  # n x k
    dominant: np.ndarray  # n, index into the axis's segment ids
    strength: np.ndarray  # n, index into STRENGTHS


@dataclass(frozen=True)
class Scores:
    """Every axis's scores plus the fingerprint, for n customers."""

    axes: dict[str, AxisScores]
    fingerprint: np.ndarray  # n x (sum of k)


@dataclass(frozen=True)
class ScoringModel:
    """The parts of a manifest scoring needs, in the fixed axis order of the fingerprint."""

    model_version: str
    axes: dict[str, AxisModel]
    archetype_axes: tuple[str, ...]

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> ScoringModel:
        """Take what scoring needs from a loaded manifest."""
        return cls(
            model_version=manifest.model_version,
            axes=dict(manifest.axes),
            archetype_axes=tuple(manifest.archetype_axes),
        )

    @property
    def columns(self) -> list[str]:
        """The raw feature columns, in the order `score` expects them."""
        return [c for ax in self.axes.values() for c in ax.columns]

    @property
    def fingerprint_layout(self) -> list[tuple[str, str]]:
        """(axis, segment id) of every fingerprint position."""
        return [(name, sid) for name, ax in self.axes.items() for sid in ax.segment_ids]


def score(model: ScoringModel, raw: np.ndarray) -> Scores:
    """Score raw feature rows (n x len(model.columns), NaN = missing) on every axis."""
    out: dict[str, AxisScores] = {}
    start = 0
    for name, axis in model.axes.items():
        width = len(axis.columns)
        d = axis_distances(axis, raw[:, start : start + width])
        start += width
        m = memberships(d)
        out[name] = AxisScores(d, m, np.argmin(d, axis=1), strength_codes(m))
    fingerprint = np.hstack([s.distances for s in out.values()]) if out else np.empty((raw.shape[0], 0))
    return Scores(out, fingerprint)


def archetypes(model: ScoringModel, scores: Scores, memo: dict[int, str] | None = None) -> tuple[list[str], np.ndarray]:
    """The distinct archetype keys among the rows, and each row's index into them.

    Dominant indices are combined into one integer per row (mixed radix over the
    archetype axes' k), so only the distinct combinations become strings; `memo`
    (code -> key), kept across batches, spares re-spelling the ones seen before.
    """
    n = scores.fingerprint.shape[0]
    code = np.zeros(n, dtype=np.int64)
    for a in model.archetype_axes:
        code = code * model.axes[a].k + scores.axes[a].dominant
    distinct, inverse = np.unique(code, return_inverse=True)
    memo = {} if memo is None else memo
    keys = []
    for value in distinct.tolist():
        key = memo.get(value)
        if key is None:
            key = memo[value] = _combination_key(model, value)
        keys.append(key)
    return keys, np.asarray(inverse, dtype=np.int64).reshape(n)


def _combination_key(model: ScoringModel, code: int) -> str:
    """The archetype key of one mixed-radix combination code."""
    segments = []
    for a in reversed(model.archetype_axes):
        code, index = divmod(code, model.axes[a].k)
        segments.append(model.axes[a].segment_ids[index])
    return archetype_key(segments[::-1])


def archetype_keys(model: ScoringModel, scores: Scores) -> list[str]:
    """The archetype key of every row."""
    keys, inverse = archetypes(model, scores)
    return [keys[i] for i in inverse.tolist()]


def profile_record(
    model: ScoringModel, scores: Scores, i: int, keys: Sequence[str], observed: Container[str]
) -> dict[str, Any]:
    """Row i as a `customer_profiles` record (without customer id, date and business metrics); `observed` holds
    the archetype keys of the model's registry."""
    key = keys[i]
    segs = {name: ax.segment_ids for name, ax in model.axes.items()}
    return {
        "model_version": model.model_version,
        "archetype_id": archetype_id(key),
        "archetype_key": key,
        "archetype_is_new": key not in observed,
        "segment_memberships": {
            a: dict(zip(segs[a], map(float, s.memberships[i]), strict=True)) for a, s in scores.axes.items()
        },
        "segment_distances": {
            a: dict(zip(segs[a], map(float, s.distances[i]), strict=True)) for a, s in scores.axes.items()
        },
        "dominant_segments": {a: segs[a][int(s.dominant[i])] for a, s in scores.axes.items()},
        "membership_strengths": {a: STRENGTHS[int(s.strength[i])] for a, s in scores.axes.items()},
        "segment_tiers": {a: int(model.axes[a].tiers[int(s.dominant[i])]) for a, s in scores.axes.items()},
        "fingerprint": [float(v) for v in scores.fingerprint[i]],
    }


def level3_document(model: ScoringModel, record: Mapping[str, Any]) -> dict[str, Any]:
    """One customer's profile record as the seed's Level 3 document (JSON-ready)."""
    fingerprint: dict[str, dict[str, dict[str, Any]]] = {}
    for name, axis in model.axes.items():
        dist = record["segment_distances"][name]
        member = record["segment_memberships"][name]
        fingerprint[name] = {
            sid: {"name": label, "tier": tier, "distance": dist[sid], "membership": member[sid]}
            for sid, label, tier in zip(axis.segment_ids, axis.names, axis.tiers, strict=True)
        }
    names = {a: dict(zip(ax.segment_ids, ax.names, strict=True)) for a, ax in model.axes.items()}
    doc = {
        "customer_id": record.get("customer_id"),
        "snapshot_date": record.get("snapshot_date"),
        "model_version": record["model_version"],
        "archetype": {
            "id": record["archetype_id"],
            "key": record["archetype_key"],
            "is_new": record["archetype_is_new"],
            "axes": list(model.archetype_axes),
        },
        "dominant_segments": {
            a: {
                "segment_id": sid,
                "name": names[a][sid],
                "tier": record["segment_tiers"][a],
                "strength": record["membership_strengths"][a],
            }
            for a in model.axes
            for sid in [record["dominant_segments"][a]]
        },
        "behavioral_fingerprint": fingerprint,
        "distance_vector": list(record["fingerprint"]),
        "distance_vector_layout": [f"{a}/{s}" for a, s in model.fingerprint_layout],
        "lifetime_value": record.get("lifetime_value"),
        "total_orders": record.get("total_orders"),
    }
    return doc
