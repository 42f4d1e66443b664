"""A small model written by hand (no fitting), so scores can be worked out on paper."""

from __future__ import annotations

from segspark.model.manifest import AxisModel, Manifest


def axis(
    name: str,
    features: dict[str, dict[str, object]],
    centres: list[list[float]],
    *,
    impute: list[float],
    mean: list[float],
    scale: list[float],
    tiers: list[int] | None = None,
) -> AxisModel:
    k = len(centres)
    ids = [f"{name}_s{i}" for i in range(k)]
    return AxisModel(
        features=list(features),
        columns=[f"{name}__{f}" for f in features],
        primary=next(iter(features)),
        transforms={f: dict(t) for f, t in features.items()},
        impute=dict(zip(features, impute, strict=True)),
        scaler_mean=mean,
        scaler_scale=scale,
        centers_scaled=centres,
        centers_original=centres,
        segment_ids=ids,
        tiers=tiers or list(range(1, k + 1)),
        names=[f"segment {i}" for i in range(k)],
        interpretations=["" for _ in range(k)],
        sizes=[10] * k,
        silhouette_by_k={str(k): 0.5},
        k=k,
        population={f: {"min": 0.0, "median": 1.0, "max": 10.0} for f in features},
    )


def hand_manifest(registry: list[str] | None = None) -> Manifest:
    """Two axes: `freq` (2 raw features, 3 centres) and `value` (1 log1p feature scaled, 2 centres)."""
    freq = axis(
        "freq",
        {"a": {"kind": "none"}, "b": {"kind": "none"}},
        [[0.0, 0.0], [3.0, 4.0], [0.0, 10.0]],
        impute=[1.0, 2.0],
        mean=[0.0, 0.0],
        scale=[1.0, 1.0],
        tiers=[2, 3, 1],
    )
    value = axis(
        "value",
        {"v": {"kind": "log1p"}},
        [[-1.0], [1.0]],
        impute=[0.0],
        mean=[1.0],
        scale=[2.0],
    )
    keys = registry if registry is not None else ["freq_s0|value_s0", "freq_s1|value_s1"]
    return Manifest(
        model_version="m-hand",
        as_of="2024-01-01",
        source="hand",
        input_fingerprint="0",
        axes={"freq": freq, "value": value},
        archetype_axes=["freq", "value"],
        archetypes=[{"archetype_id": "x", "key": k, "segments": {}, "count": 1} for k in keys],
    )
