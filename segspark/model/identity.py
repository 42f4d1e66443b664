"""Stable segment identities across refits: Hungarian matching of centres, tiers, ids."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Lineage:
    """How a new model's segments relate to the previous model's."""

    ids: list[str]
    matched: dict[str, str] = field(default_factory=dict)  # new id -> previous id (same id)
    births: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    splits: dict[str, list[str]] = field(default_factory=dict)  # previous id -> new ids it split into
    merges: dict[str, list[str]] = field(default_factory=dict)  # new id -> previous ids merged into it


def segment_id(axis: str, number: int) -> str:
    """A stable segment id string such as `purchase_frequency/s3`."""
    return f"{axis}/s{number}"


def first_ids(axis: str, primary_values: np.ndarray) -> list[str]:
    """Ids of a first fit: numbered by the primary feature's centre, lowest first (ties by position)."""
    order = np.lexsort((np.arange(len(primary_values)), primary_values))
    ids = [""] * len(primary_values)
    for rank, i in enumerate(order, start=1):
        ids[i] = segment_id(axis, rank)
    return ids


def tiers(primary_values: np.ndarray) -> list[int]:
    """Ordinal tier of each segment by its primary feature centre: 1 = lowest."""
    order = np.lexsort((np.arange(len(primary_values)), primary_values))
    out = [0] * len(primary_values)
    for rank, i in enumerate(order, start=1):
        out[i] = rank
    return out


def match(
    axis: str,
    new_centres: np.ndarray,
    old_centres: np.ndarray,
    old_ids: list[str],
    new_primary: np.ndarray,
    max_distance: float,
) -> Lineage:
    """Give new centres the ids of the old ones they match (Hungarian on Euclidean distance).

    Both centre sets must be in the same coordinates (the previous model's
    scaled space). A pair further apart than `max_distance` is no match. New
    centres left over are births (numbered after the highest id ever used);
    old ones left over are retired. A birth whose nearest old centre was
    matched to another new centre is a split of it; a retired centre whose
    nearest new centre is matched is merged into it.
    """
    # Imported here: scipy.optimize takes half a second to import, and only a refit matches identities.
    from scipy.optimize import linear_sum_assignment

    dist = np.linalg.norm(new_centres[:, None, :] - old_centres[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(dist)
    ids: list[str | None] = [None] * len(new_centres)
    matched = {}
    for r, c in zip(rows, cols, strict=True):
        if dist[r, c] <= max_distance:
            ids[r] = old_ids[c]
            matched[old_ids[c]] = old_ids[c]
    next_number = 1 + max(int(i.rsplit("/s", 1)[1]) for i in old_ids)
    births = []
    for i in np.lexsort((np.arange(len(new_primary)), new_primary)):
        if ids[i] is None:
            ids[i] = segment_id(axis, next_number)
            births.append(ids[i])
            next_number += 1
    final = [str(i) for i in ids]
    retired = [old for old in old_ids if old not in matched]
    splits: dict[str, list[str]] = {}
    for i, new_id in enumerate(final):
        if new_id in births:
            nearest_old = old_ids[int(np.argmin(dist[i]))]
            if nearest_old in matched:
                splits.setdefault(nearest_old, []).append(new_id)
    merges: dict[str, list[str]] = {}
    for j, old_id in enumerate(old_ids):
        if old_id in retired:
            nearest_new = final[int(np.argmin(dist[:, j]))]
            if nearest_new not in births:
                merges.setdefault(nearest_new, []).append(old_id)
    return Lineage(
        ids=final, matched={k: k for k in matched}, births=births, retired=retired, splits=splits, merges=merges
    )


def archetype_key(segments: Sequence[str]) -> str:
    """The combination of dominant segments in archetype-axis order, as text."""
    return "|".join(segments)


def archetype_id(key: str) -> str:
    """A deterministic archetype id: the same combination gets the same id in every run, model and process."""
    return "A" + hashlib.sha256(key.encode()).hexdigest()[:10]
