"""Are two `segspark run` warehouses the same? (issue 24: local-cluster against local[2] at 5M lines)

    python bench/compare_warehouses.py WAREHOUSE_A WAREHOUSE_B

Compares, snapshot by snapshot, the committed `features`, `customer_profiles`
(ids, archetypes and every fingerprint distance) and `drift` (velocities and
alerts) tables, and the models (k, segment ids, names, sizes, centres). Doubles
agree within 1e-9 relative: a sum over doubles may differ in its last bit with
the order rows reach it. Counting and comparing happen in Spark (anti-joins),
so nothing customer-sized reaches the driver. Exit status 0 when all agree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from segspark.model.manifest import load_manifest
from segspark.session import get_spark
from segspark.tables import committed, read_partitions

TOLERANCE = 1e-9


def _close(a: Column, b: Column) -> Column:
    return (a.isNull() & b.isNull()) | (F.abs(a - b) <= F.lit(TOLERANCE) * F.greatest(F.lit(1.0), F.abs(a), F.abs(b)))


def differing(a: DataFrame, b: DataFrame, keys: list[str]) -> tuple[int, int, int]:
    """(rows of a, rows of b, rows whose key is missing on one side or whose values differ)."""
    doubles = [f.name for f in a.schema.fields if f.dataType.typeName() == "double" and f.name not in keys]
    others = [c for c in a.columns if c not in keys and c not in doubles]
    x = a.select(*keys, *[F.col(c).alias(f"a_{c}") for c in doubles + others])
    y = b.select(*keys, *[F.col(c).alias(f"b_{c}") for c in doubles + others])
    joined = x.join(y, keys, "full_outer")
    same = F.lit(True)
    for c in doubles:
        same = same & _close(F.col(f"a_{c}"), F.col(f"b_{c}"))
    for c in others:
        same = same & F.col(f"a_{c}").eqNullSafe(F.col(f"b_{c}"))
    row = joined.agg(F.count_if(~same).alias("bad")).first()
    return a.count(), b.count(), int(row["bad"]) if row else -1


def _profiles(df: DataFrame) -> DataFrame:
    return df.select(
        "customer_id",
        "archetype_id",
        "archetype_is_new",
        F.to_json("dominant_segments").alias("dominant"),
        F.posexplode("fingerprint").alias("pos", "distance"),
    )


def _drift(df: DataFrame) -> DataFrame:
    return df.select(
        "customer_id",
        "baseline_date",
        "days_elapsed",
        "overall_alert",
        "migrated",
        "churn_risk",
        F.explode("velocity").alias("axis", "velocity"),
    )


def compare(spark: SparkSession, a: str, b: str) -> bool:
    ok = True
    for table, key, shape, keys in (
        ("features", "snapshot_date", lambda d: d, ["customer_id"]),
        ("customer_profiles", "snapshot_date", _profiles, ["customer_id", "pos"]),
        ("drift", "snapshot_date", _drift, ["customer_id", "baseline_date", "axis"]),
    ):
        days_a = sorted(committed(spark, root=a, table=table, key=key))
        days_b = sorted(committed(spark, root=b, table=table, key=key))
        if days_a != days_b:
            print(f"{table}: snapshots differ: {days_a} against {days_b}")
            ok = False
        for day in days_a:
            if day not in days_b:
                continue
            x = shape(read_partitions(spark, root=a, table=table, key=key, values=[day]))
            y = shape(read_partitions(spark, root=b, table=table, key=key, values=[day]))
            n_a, n_b, bad = differing(x, y, keys)
            print(f"{table} {day}: {n_a:,} and {n_b:,} rows, {bad:,} differ")
            ok &= bad == 0 and n_a == n_b
    m_a, m_b = load_manifest(a), load_manifest(b)
    # The version hashes the exact bits of every input feature (docs/reliability.md): a last-bit difference
    # in a sum changes it while every k, id, name, size and centre stays the same, so it is reported apart.
    same_model = list(m_a.axes) == list(m_b.axes)
    for name, axis in m_a.axes.items():
        other = m_b.axes.get(name)
        if other is None:
            same_model = False
            continue
        gap = max(
            abs(p - q)
            for r, s in zip(axis.centers_scaled, other.centers_scaled, strict=True)
            for p, q in zip(r, s, strict=True)
        )
        if (axis.k, axis.segment_ids, axis.names, axis.sizes) != (other.k, other.segment_ids, other.names, other.sizes):
            print(f"model {name}: k {axis.k} and {other.k}; segment ids, names or sizes differ")
            same_model = False
        if gap > 1e-9:
            print(f"model {name}: centres differ by up to {gap:.2e}")
            same_model = False
    versions = "the same version" if m_a.model_version == m_b.model_version else "versions differ"
    print(
        f"models: {m_a.model_version} and {m_b.model_version}, {len(m_a.axes)} axes: "
        f"k, segment ids, names, sizes and centres {'the same' if same_model else 'DIFFERENT'} ({versions})"
    )
    return ok and same_model


def main(argv: list[str]) -> int:
    spark = get_spark({"master": "local[2]", "shuffle_partitions": 8, "driver_memory": "4g"})
    a, b = (str(Path(p).resolve()) for p in argv[:2])
    result = compare(spark, a, b)
    print(json.dumps({"a": a, "b": b, "identical": result}))
    return 0 if result else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
