"""Archetypes: the combinations of dominant segments over the archetype axes, counted into a registry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segspark.model.assign import dominant_column
from segspark.model.manifest import AxisModel

# Archetypes the manifest lists (the most common); the whole registry is a table next to it.
TOP_ARCHETYPES = 100


def archetype_registry(features: DataFrame, models: Mapping[str, AxisModel], axes: Sequence[str]) -> DataFrame:
    """archetype_id, archetype_key and customers of every combination of dominant segments observed in
    `features` over the archetype axes: as many rows as combinations, so it stays a table, never a list."""
    dominant = features.select(*[dominant_column(models[a]).alias(a) for a in axes])
    key = F.concat_ws("|", *[F.col(a) for a in axes])
    return (
        dominant.groupBy(*axes)
        .agg(F.count(F.lit(1)).alias("customers"))
        .select(archetype_id_column(key).alias("archetype_id"), key.alias("archetype_key"), "customers")
    )


def archetype_id_column(key: Column) -> Column:
    """`identity.archetype_id` as a Spark expression: "A" and the first 10 hex digits of the key's SHA-256."""
    return F.concat(F.lit("A"), F.substring(F.sha2(key, 256), 1, 10))


def observed_archetypes(registry: DataFrame, axes: Sequence[str], top: int = TOP_ARCHETYPES) -> list[dict[str, Any]]:
    """The `top` most common combinations of the registry (most common first), for the manifest."""
    if not axes:
        return []
    rows = registry.orderBy(F.desc("customers"), "archetype_key").limit(top).collect()  # at most `top` rows
    out = []
    for r in rows:
        key = r["archetype_key"]
        out.append(
            {
                "archetype_id": r["archetype_id"],
                "key": key,
                "segments": dict(zip(axes, key.split("|"), strict=True)),
                "count": int(r["customers"]),
            }
        )
    return out
