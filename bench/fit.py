"""Fit timings (issue 4).

1. All applicable axes of Online Retail II as of 2011-12-10, local[2] (target <= 60 s).
2. fit time at 1M customers / fit time at 100k customers on generated features
   (target <= 3: the k search runs on a sample of fit.k_search_sample_size).

    .venv/bin/python bench/fit.py [--skip-scale]

With BENCH_ENGINES=mllib,numpy the Online Retail II fit runs once per engine
(fit.k_search_engine), interleaved twice, and reports whether both chose the same
k, silhouettes, sizes and centres on every axis.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import setup_orii, timed

from segspark.config import load_config
from segspark.features.axes import load_axes
from segspark.features.engine import compute_features
from segspark.model.fit import fit_model
from tests.planted import AXIS, planted


def main() -> int:
    skip_scale, spark, tmp, orders = setup_orii(__doc__ or "")
    cfg = dict(load_config().section("fit"))
    feats, _ = compute_features(orders, load_axes(), as_of=date(2011, 12, 10), zone="Europe/London")
    feats.write.parquet(str(tmp / "features"))
    features = spark.read.parquet(str(tmp / "features"))
    engines = [e for e in os.environ.get("BENCH_ENGINES", "").split(",") if e]
    if engines:
        got: dict[str, list] = {e: [] for e in engines}
        for _ in range(2):
            for engine in engines:
                run = {**cfg, "k_search_engine": engine}
                manifest, seconds = timed(
                    f"fit Online Retail II, k search {engine}",
                    lambda run=run: fit_model(features, load_axes(), as_of="2011-12-10", source="orii", cfg=run)[0],
                )
                got[engine].append((manifest, seconds))
        first = got[engines[0]][0][0]
        for engine in engines[1:]:
            other = got[engine][0][0]
            same = all(
                (a.k, a.silhouette_by_k, a.sizes, a.centers_scaled)
                == (other.axes[n].k, other.axes[n].silhouette_by_k, other.axes[n].sizes, other.axes[n].centers_scaled)
                for n, a in first.axes.items()
            ) and set(first.axes) == set(other.axes)
            print(f"RESULT {engines[0]} and {engine}: same k, silhouettes, sizes and centres on every axis: {same}")
        for engine, runs in got.items():
            print(f"RESULT orii_fit_s[{engine}]=" + ", ".join(f"{s:.1f}" for _, s in runs))
        return 0
    _, seconds = timed(
        "fit Online Retail II", lambda: fit_model(features, load_axes(), as_of="2011-12-10", source="orii", cfg=cfg)
    )
    print(f"RESULT orii_fit_s={seconds:.1f} (target <= 60)")
    if skip_scale:
        return 0
    times = {}
    for customers in (100_000, 1_000_000):
        path = str(tmp / f"planted{customers}")
        planted(spark, 4, per_group=customers // 4, seed=3).drop("group").write.parquet(path)
        data = spark.read.parquet(path)
        times[customers] = timed(
            f"fit {customers:,} customers",
            lambda data=data: fit_model(data, [AXIS], as_of="2024-01-01", source="planted", cfg=cfg),
        )[1]
    ratio = times[1_000_000] / times[100_000]
    print(f"RESULT fit_100k_s={times[100_000]:.1f} fit_1M_s={times[1_000_000]:.1f} ratio={ratio:.2f} (target <= 3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
