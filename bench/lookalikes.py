"""Lookalike timings and recall (issue 8).

200,000 generated customers with 36-dimensional fingerprints (Gaussian clusters,
generated in Spark). Measured in one run on local[2]:

1. `lookalikes --all`: every customer's approximate 10 nearest neighbours (LSH,
   default `lookalikes.lsh` settings), written as Parquet.
2. Exact answer for a deterministic sample of 1,000 customers (one scan of the
   population with the 1,000 seeds broadcast); recall@10 of the approximate
   answer on that sample (target >= 0.9).
3. Exact all-pairs time: the 1,000-seed scan time x 200 (all-pairs is 200 such
   scans of the same population), against the approximate time.

    .venv/bin/python bench/lookalikes.py [--tables T] [--bits B] [--max-bucket M] [--by-group]

Options override the `lookalikes.lsh` configuration; `--by-group` blocks by the
generated group, the way `by_archetype` blocks by archetype.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import machine, spark_local2, timed
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segspark.config import load_config
from segspark.generate import uniform
from segspark.lookalike.approximate import LshSettings, approximate_neighbours
from segspark.lookalike.exact import exact_lookalikes, load_seeds

N, DIM, GROUPS, K, SAMPLE = 200_000, 36, 12, 10, 1_000


def population(spark: SparkSession) -> DataFrame:
    """Clustered positive vectors, like distances to centres."""
    g = (F.col("id") % GROUPS).cast("double")
    dims = []
    for j in range(DIM):
        u1 = F.greatest(uniform(11, f"a{j}", F.col("id")), F.lit(1e-12))
        u2 = uniform(11, f"b{j}", F.col("id"))
        noise = F.sqrt(-2 * F.log(u1)) * F.cos(F.lit(2 * math.pi) * u2)
        dims.append(F.abs(F.lit(1.0) + F.pmod(g * (j + 1), F.lit(7.0)) + F.lit(0.5) * noise))
    return spark.range(N).select(
        F.format_string("G%06d", "id").alias("customer_id"),
        F.array(*dims).alias("fingerprint"),
        F.format_string("g%d", (F.col("id") % GROUPS).cast("int")).alias("archetype_id"),  # the planted group
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tables", type=int)
    parser.add_argument("--bits", type=int)
    parser.add_argument("--max-bucket", type=int, dest="max_bucket")
    parser.add_argument("--by-group", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    spark = spark_local2()
    tmp = Path(tempfile.mkdtemp(prefix="segspark-bench-"))
    timed("generate 200k fingerprints", lambda: population(spark).write.parquet(str(tmp / "pop")))
    pop = spark.read.parquet(str(tmp / "pop"))
    settings = dict(load_config().section("lookalikes")["lsh"])
    settings.update({k: v for k, v in vars(args).items() if k != "by_group" and v is not None})
    settings["by_archetype"] = bool(args.by_group)
    lsh = LshSettings(**settings)
    print(f"LSH: {lsh}")
    _, approx_s = timed("approximate kNN, all customers", lambda: approximate_neighbours(pop, K, lsh, DIM)
                        .write.parquet(str(tmp / "approx")))  # fmt: skip
    approx = spark.read.parquet(str(tmp / "approx"))
    sample = [r.customer_id for r in pop.filter(uniform(5, "sample", F.col("customer_id")) < SAMPLE / N)
              .limit(SAMPLE).collect()]  # fmt: skip
    seeds = load_seeds(pop, sample)
    _, exact_s = timed(f"exact kNN for {len(sample):,} seeds (one scan)", lambda: exact_lookalikes(pop, seeds, K)
                       .write.parquet(str(tmp / "exact")))  # fmt: skip
    exact = spark.read.parquet(str(tmp / "exact"))
    hits = (
        exact.join(approx.select(F.col("customer_id").alias("seed_id"), F.col("neighbour_id").alias("customer_id")),
                   ["seed_id", "customer_id"], how="inner")
        .count()
    )  # fmt: skip
    recall = hits / (len(sample) * K)
    all_pairs = exact_s * N / len(sample)
    print(f"RESULT recall_at_10={recall:.3f} (target >= 0.9) on {len(sample):,} sampled customers")
    print(f"RESULT approx_all_s={approx_s:.1f} exact_all_pairs_s~{all_pairs:.0f} "
          f"(= {exact_s:.1f} s x {N // len(sample)}) speedup~{all_pairs / approx_s:.1f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
