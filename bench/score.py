"""Scoring throughput (issue 6).

A model is fitted on Online Retail II as of 2011-12-10 (k fixed at 4 to keep the
benchmark short; scoring cost depends on k, not on how it was chosen). Customers
are generated at the features level: each raw feature drawn in Spark (hash-based,
deterministic) between the model's population min and max, 5% left missing.

1. Throughput on the same rows in the same run: rows/s/core of the Spark pass
   (all axes, one mapInArrow, output materialised with the `noop` sink) and
   rows/s of the numpy core alone on one core, each the median of 3 runs after a
   full warm-up pass; ratio (target >= 0.3). Measured for two passes:
   `score_profiles` (the customer_profiles columns, per-customer maps included)
   and `score_vectors` (the same scoring, numeric arrays out); and on two row
   sets: 1M rows (the result: throughput is a steady-state rate, and a Spark job
   also pays a fixed ~0.2 s to plan, launch tasks and reach the Python workers)
   and 200k rows (where that fixed cost shows).
   The numpy core is timed on the rows cut into the blocks the pass hands it
   (`spark.sql.execution.arrow.maxRecordsPerBatch`), its fastest way (one call
   on all 1M rows runs ~1.4x slower per row, out of cache); the whole-array time
   is printed too.
2. Time to score 1M generated customers on local[2] and write the profiles
   as Parquet (target <= 120 s).

    .venv/bin/python bench/score.py
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import setup_orii, timed

from segspark.config import load_config
from segspark.features.axes import load_axes
from segspark.features.engine import compute_features
from segspark.generate import uniform
from segspark.model.fit import fit_model
from segspark.model.manifest import Manifest
from segspark.score.core import ScoringModel, score
from segspark.score.spark import score_profiles, score_vectors

CORES = 2
MILLION = 1_000_000
SUBSET = 200_000


def generated_features(spark: SparkSession, manifest: Manifest, customers: int) -> DataFrame:
    """customer_id plus every model column, drawn between the population min and max (5% null)."""
    cols: list[Column] = []
    for axis in manifest.axes.values():
        for feature, column in zip(axis.features, axis.columns, strict=True):
            pop = axis.population[feature]
            low, high = float(pop["min"]), float(pop["max"])
            u = uniform(7, column, F.col("id"))
            value = F.lit(low) + (F.lit(high) - F.lit(low)) * u * u  # skewed towards low values, like money
            cols.append(F.when(uniform(8, column, F.col("id")) < 0.05, F.lit(None)).otherwise(value).alias(column))
    return spark.range(customers).select(F.format_string("G%08d", "id").alias("customer_id"), *cols)


def spark_pass(
    same: DataFrame, model: ScoringModel, fn: Callable[[DataFrame, ScoringModel], DataFrame], label: str
) -> float:
    """Median of 3 timed passes, after one full pass (so every Python worker has started and imported)."""

    def run() -> None:
        fn(same, model).write.format("noop").mode("overwrite").save()

    run()
    return float(np.median([timed(f"Spark pass ({label})", run)[1] for _ in range(3)]))


def numpy_core(same: DataFrame, model: ScoringModel, block: int) -> float:
    """Median of 3 runs of the numpy core over the same rows, in the pass's blocks (benchmark only: on the driver)."""
    raw = same.select(*model.columns).toPandas().to_numpy(dtype=float, na_value=np.nan)
    score(model, raw[:1000])

    def blocks() -> None:
        for i in range(0, len(raw), block):
            score(model, raw[i : i + block])

    runs = [timed(f"numpy core, {len(raw):,} rows in blocks of {block:,}, one core", blocks)[1] for _ in range(3)]
    timed(f"numpy core, {len(raw):,} rows in one call (for comparison)", lambda: score(model, raw))
    return float(np.median(runs))


def main() -> int:
    _, spark, tmp, orders = setup_orii(__doc__ or "")
    cfg = {**dict(load_config().section("fit")), "k_min": 4, "k_max": 4, "parallelism": 3}
    feats, _ = compute_features(orders, load_axes(), as_of=date(2011, 12, 10), zone="Europe/London")
    feats.write.parquet(str(tmp / "features"))
    features = spark.read.parquet(str(tmp / "features"))
    (manifest, _), _ = timed(
        "fit (k=4)", lambda: fit_model(features, load_axes(), as_of="2011-12-10", source="orii", cfg=cfg)
    )
    model = ScoringModel.from_manifest(manifest)
    print(
        f"model: {len(model.axes)} axes, {len(model.columns)} features, fingerprint width "
        f"{len(model.fingerprint_layout)}"
    )

    path = str(tmp / "generated")
    timed("generate 1M customers' features", lambda: generated_features(spark, manifest, MILLION).write.parquet(path))
    subset_path = str(tmp / "subset")
    spark.read.parquet(path).limit(SUBSET).coalesce(CORES).write.parquet(subset_path)
    block = int(spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch") or 10_000)

    for rows, source in ((MILLION, path), (SUBSET, subset_path)):
        same = spark.read.parquet(source).cache()
        same.count()
        numpy_s = numpy_core(same, model, block)
        numpy_rate = rows / numpy_s
        for label, fn in (("profiles", score_profiles), ("vectors", score_vectors)):
            seconds = spark_pass(same, model, fn, f"{label}, {rows:,} rows")
            spark_rate = rows / seconds / CORES
            ratio = spark_rate / numpy_rate
            print(
                f"RESULT {label} {rows:,} rows: spark_rows_per_s_per_core={spark_rate:,.0f} "
                f"numpy_rows_per_s={numpy_rate:,.0f} ratio={ratio:.2f} (target >= 0.3)"
            )
        same.unpersist()

    population = spark.read.parquet(path)
    _, million_s = timed(
        "score 1M customers and write profiles",
        lambda: score_profiles(population, model).write.mode("overwrite").parquet(str(tmp / "profiles")),
    )
    print(f"RESULT score_1M_s={million_s:.1f} (target <= 120)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
