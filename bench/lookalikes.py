"""Lookalike timings and recall (issue 8).

200,000 generated customers with 36-dimensional fingerprints shaped like scored
ones (per axis, distances from a noisy point to 4 centres; generated in Spark). Measured in one run on local[2]:

1. `lookalikes --all`: every customer's approximate 10 nearest neighbours (LSH,
   default `lookalikes.lsh` settings), written as Parquet.
2. Exact answer for a deterministic sample of 1,000 customers (one scan of the
   population with the 1,000 seeds broadcast); recall@10 of the approximate
   answer on that sample (target >= 0.9).
3. Exact all-pairs time: the 1,000-seed scan time x 200 (all-pairs is 200 such
   scans of the same population), against the approximate time.

    .venv/bin/python bench/lookalikes.py [--customers N] [--tables T] [--bits B] [--max-bucket M] [--by-group]

Options override the `lookalikes.lsh` configuration; `--by-group` blocks by the
generated group, the way `by_archetype` blocks by archetype.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import machine, spark_local2, timed
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segspark.config import load_config
from segspark.generate import uniform
from segspark.lookalike.approximate import LshSettings, approximate_neighbours
from segspark.lookalike.exact import exact_lookalikes, load_seeds

N, GROUPS, K, SAMPLE = 200_000, 12, 10, 1_000
AXES, CENTRES, FEATURES = 9, 4, 3
DIM = AXES * CENTRES


def population(spark: SparkSession, n: int = 200_000) -> DataFrame:
    """Fingerprints shaped like real ones: per axis, distances from a noisy 3-feature point to 4 centres.

    9 axes x 4 centres = 36 dimensions. Each customer's point on an axis sits near
    one of the axis's centres (chosen by its group) with Gaussian noise, as scored
    customers do; the fingerprint is the 4 distances of every axis.
    """
    rng = np.random.default_rng(7)
    centres = rng.uniform(-3, 3, size=(AXES, CENTRES, FEATURES))
    g = F.col("id") % GROUPS
    dims = []
    for a in range(AXES):
        home = (g * (a + 1)) % CENTRES
        point = []
        for j in range(FEATURES):
            u1 = F.greatest(uniform(11, f"a{a}.{j}", F.col("id")), F.lit(1e-12))
            u2 = uniform(11, f"b{a}.{j}", F.col("id"))
            noise = F.sqrt(-2 * F.log(u1)) * F.cos(F.lit(2 * math.pi) * u2)
            centre = F.element_at(F.array(*[F.lit(float(c)) for c in centres[a, :, j]]), (home + 1).cast("int"))
            point.append(centre + F.lit(0.7) * noise)
        for m in range(CENTRES):
            dims.append(
                F.sqrt(sum(((point[j] - F.lit(float(centres[a, m, j]))) ** 2 for j in range(FEATURES)), F.lit(0.0)))
            )
    return spark.range(n).select(
        F.format_string("G%06d", "id").alias("customer_id"),
        F.array(*dims).alias("fingerprint"),
        F.format_string("g%d", g.cast("int")).alias("archetype_id"),  # the planted group
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tables", type=int)
    parser.add_argument("--bits", type=int)
    parser.add_argument("--max-bucket", type=int, dest="max_bucket")
    parser.add_argument("--by-group", action="store_true")
    parser.add_argument("--customers", type=int, default=N, help="population size (default 200,000)")
    args = parser.parse_args()
    n = args.customers
    print(f"machine: {machine()}")
    spark = spark_local2()
    tmp = Path(tempfile.mkdtemp(prefix="segspark-bench-"))
    timed(f"generate {n:,} fingerprints", lambda: population(spark, n).write.parquet(str(tmp / "pop")))
    pop = spark.read.parquet(str(tmp / "pop"))
    settings = dict(load_config().section("lookalikes")["lsh"])
    settings.update({k: v for k, v in vars(args).items() if k not in ("by_group", "customers") and v is not None})
    settings["by_archetype"] = bool(args.by_group)
    lsh = LshSettings(**settings)
    print(f"LSH: {lsh}")
    _, approx_s = timed(
        "approximate kNN, all customers",
        lambda: approximate_neighbours(pop, K, lsh, DIM).write.parquet(str(tmp / "approx")),
    )
    approx = spark.read.parquet(str(tmp / "approx"))
    sample = [
        r.customer_id
        for r in pop.filter(uniform(5, "sample", F.col("customer_id")) < SAMPLE / n).limit(SAMPLE).collect()
    ]
    seeds = load_seeds(pop, sample)
    _, exact_s = timed(
        f"exact kNN for {len(sample):,} seeds (one scan)",
        lambda: exact_lookalikes(pop, seeds, K).write.parquet(str(tmp / "exact")),
    )
    exact = spark.read.parquet(str(tmp / "exact"))
    hits = exact.join(
        approx.select(F.col("customer_id").alias("seed_id"), F.col("neighbour_id").alias("customer_id")),
        ["seed_id", "customer_id"],
        how="inner",
    ).count()
    recall = hits / (len(sample) * K)
    all_pairs = exact_s * n / len(sample)
    print(f"RESULT recall_at_10={recall:.3f} (target >= 0.9) on {len(sample):,} sampled customers")
    print(
        f"RESULT approx_all_s={approx_s:.1f} exact_all_pairs_s~{all_pairs:.0f} "
        f"(= {exact_s:.1f} s x {n // len(sample)}) speedup~{all_pairs / approx_s:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
