"""Deterministic segment names and interpretations from centre z-scores (the fallback namer)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

TYPICAL_Z = 0.5  # |z| below this is "about average"
MAX_LEN = 40


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")


def deterministic_names(axis: str, features: Sequence[str], z: np.ndarray, tiers: Sequence[int]) -> list[str]:
    """One snake_case name per segment from its two most distinctive features.

    E.g. `high_orders_per_month_low_avg_days_between_orders`, trimmed to 40
    characters; duplicates within the axis get their tier appended.
    """
    names = []
    for row in z:
        order = np.argsort(-np.abs(row), kind="stable")
        parts = [f"{'high' if row[i] > 0 else 'low'}_{features[i]}" for i in order[:2] if abs(row[i]) >= TYPICAL_Z]
        # Keep whole words: drop the second trait rather than cut one in half.
        while len(parts) > 1 and len("_".join(parts)) > MAX_LEN:
            parts.pop()
        name = _slug("_".join(parts)) if parts else f"typical_{_slug(axis)}"
        names.append(name[:MAX_LEN].rstrip("_"))
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    out = []
    for name, tier in zip(names, tiers, strict=True):
        if seen[name] > 1:
            suffix = f"_tier{tier}"
            name = name[: MAX_LEN - len(suffix)].rstrip("_") + suffix
        out.append(name)
    return out


def interpretation(features: Sequence[str], centre: Sequence[float], medians: Sequence[float]) -> str:
    """One sentence comparing a centre with the population medians, most distinctive first."""
    ratios = []
    for f, c, m in zip(features, centre, medians, strict=True):
        rel = "above" if c > m else "below" if c < m else "at"
        ratios.append(f"{f.replace('_', ' ')} {c:.3g} ({rel} the median {m:.3g})")
    return "Customers with " + "; ".join(ratios) + "."
