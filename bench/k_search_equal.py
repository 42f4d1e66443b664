"""Fit one committed features snapshot with both k search engines and compare the manifests (issue 24).

    python bench/k_search_equal.py WAREHOUSE/features 2024-06-01 [fit.key=value ...]

e.g. `rows_per_partition=5000 k_search_sample_size=12000` to make the search run on several partitions
and on a sample. Prints, per axis, whether k, silhouettes, rejected ks, sizes and centres are the same,
and each engine's fit time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from pyspark.sql import functions as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from segspark.config import load_config
from segspark.features.axes import load_axes
from segspark.model.fit import fit_model
from segspark.session import get_spark


def main(argv: list[str]) -> int:
    path, day, *overrides = argv
    config = load_config()
    base = dict(config.section("fit"))
    for item in overrides:
        key, value = item.split("=", 1)
        base[key] = type(base[key])(value)
    spark = get_spark(dict(config.section("spark")))
    features = spark.read.parquet(path).filter(F.col("snapshot_date") == day).drop("snapshot_date").cache()
    print(f"{features.count():,} customers")
    got = {}
    for engine in ("numpy", "mllib"):
        started = time.perf_counter()
        got[engine] = fit_model(
            features, load_axes(), as_of=day, source="bench", cfg={**base, "k_search_engine": engine}
        )[0]
        print(f"fit with the {engine} k search: {time.perf_counter() - started:.1f} s")
    a, b = got["numpy"], got["mllib"]
    same = a.model_version == b.model_version and set(a.axes) == set(b.axes)
    for name, x in a.axes.items():
        y = b.axes[name]
        equal = (x.k, x.silhouette_by_k, x.k_rejected, x.sizes) == (y.k, y.silhouette_by_k, y.k_rejected, y.sizes)
        gap = float(np.abs(np.subtract(x.centers_scaled, y.centers_scaled)).max()) if x.k == y.k else float("inf")
        same = same and equal and gap == 0.0
        print(f"  {name:26s} k {x.k}/{y.k}  same k, silhouettes, rejections, sizes: {equal}  centre gap {gap:.1e}")
    print(f"RESULT identical manifests: {same} (versions {a.model_version} / {b.model_version})")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
