"""Feature engine timings (issue 3).

1. All applicable axes on Online Retail II as of 2011-12-10, local[2] (target <= 30 s).
2. time(20M lines) / time(5M lines) on generated data (target <= 4.6: linear + 15%).

    .venv/bin/python bench/features.py [--skip-scale]
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

from pyspark.sql import functions as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import setup_orii, timed

from segspark.features.axes import load_axes
from segspark.features.engine import compute_features
from segspark.generate import GenerateSpec, generate


def features_seconds(orders, as_of: date, zone: str, out: str) -> float:  # type: ignore[no-untyped-def]
    """Compute and write all applicable axes; return the wall time."""

    def run() -> None:
        feats, _ = compute_features(orders, load_axes(), as_of=as_of, zone=zone)
        feats.write.mode("overwrite").parquet(out)

    return timed(f"  features as of {as_of}", run)[1]


def main() -> int:
    skip_scale, spark, tmp, orders = setup_orii(__doc__ or "")
    first = features_seconds(orders, date(2011, 12, 10), "Europe/London", str(tmp / "f1"))
    second = features_seconds(orders, date(2011, 12, 10), "Europe/London", str(tmp / "f2"))
    print(f"RESULT orii_features_first_s={first:.1f} orii_features_warm_s={second:.1f} (target <= 30)")
    if skip_scale:
        return 0
    times = {}
    for lines in (5_000_000, 20_000_000):
        path = str(tmp / f"gen{lines}")
        spec = GenerateSpec(customers=lines // 50, lines=lines, groups=4, seed=1, end=date(2024, 1, 1))
        gen, _ = generate(spark, spec)
        timed(f"generate {lines:,} lines", lambda gen=gen, path=path: gen.write.parquet(path))
        data = spark.read.parquet(path).withColumn("is_return", F.col("quantity") < 0)
        times[lines] = features_seconds(data, date(2024, 1, 1), "UTC", str(tmp / f"feat{lines}"))
    ratio = times[20_000_000] / times[5_000_000]
    small, large = times[5_000_000], times[20_000_000]
    print(f"RESULT features_5M_s={small:.1f} features_20M_s={large:.1f} ratio={ratio:.2f} (target <= 4.6)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
