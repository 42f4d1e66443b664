"""What a fit measures of the population before clustering: per column min / median / max, exact clip
quantiles, a content fingerprint, and the customers each axis can support."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segspark.features.axes import AxisSpec
from segspark.model.quantiles import exact_quantiles


def population_stats(
    features: DataFrame, axes: Sequence[AxisSpec]
) -> tuple[dict[str, dict[str, float]], dict[str, list[float]], str, dict[str, int]]:
    """Per column min / median / max and exact clip quantiles, a content fingerprint, and per axis the
    customers with every feature observed."""
    aggs = [F.count(F.lit(1)).alias("_rows"), F.sum(F.xxhash64(*features.columns).cast("decimal(38,0)")).alias("_hash")]
    wanted: dict[str, list[float]] = {}
    clips: dict[str, tuple[float, float]] = {}
    for axis in axes:
        # Customers on whom every feature of the axis is observed (none imputed): what the axis can support.
        observed = F.lit(True)
        for feature in axis.features:
            observed = observed & F.col(axis.column(feature)).isNotNull()
        aggs.append(F.count_if(observed).alias(f"{axis.name}|observed"))
        for feature, t in axis.features.items():
            col = axis.column(feature)
            aggs += [F.min(col).alias(f"{col}|min"), F.max(col).alias(f"{col}|max")]
            wanted[col] = [0.5]
            if t.kind == "clip" and t.clip is not None:
                clips[col] = t.clip
                wanted[col] += list(t.clip)
    row = features.agg(*aggs).first()
    assert row is not None
    quantiles = exact_quantiles(features, wanted, rows=int(row["_rows"]))
    values = {col: {"min": row[f"{col}|min"], "median": quantiles[col][0], "max": row[f"{col}|max"]} for col in wanted}
    stats = {col: {s: float(v) if v is not None else 0.0 for s, v in vals.items()} for col, vals in values.items()}
    bounds = {col: [float(v) if v is not None else 0.0 for v in quantiles[col][1:]] for col in clips}
    observed_by_axis = {axis.name: int(row[f"{axis.name}|observed"]) for axis in axes}
    return stats, bounds, f"{row['_rows']}:{row['_hash']}", observed_by_axis


def axis_transforms(axis: AxisSpec, bounds: Mapping[str, list[float]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for feature, t in axis.features.items():
        if t.kind == "clip":
            low, high = bounds[axis.column(feature)]
            out[feature] = {"kind": "clip", "quantiles": list(t.clip or ()), "low": low, "high": high}
        else:
            out[feature] = {"kind": t.kind}
    return out
