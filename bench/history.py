"""Backfill timing (issue 7): 7 snapshots (D and D-7 ... D-180) of Online Retail II on local[2].

Each snapshot is what `segspark backfill` does per date: point-in-time features,
then scoring into customer_profiles, both committed. The model is fitted first
(k fixed at 4; not timed). Target: the whole backfill in at most 180 s.

    .venv/bin/python bench/history.py
"""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import setup_orii, timed

from segspark.config import load_config
from segspark.features.step import run_features
from segspark.history.step import backfill_dates, run_drift
from segspark.mapping import load_mapping
from segspark.model.step import run_fit
from segspark.score.step import run_score

AS_OF = date(2011, 12, 10)


def main() -> int:
    _, spark, tmp, _ = setup_orii(__doc__ or "")
    root = str(tmp / "wh")
    config = load_config()
    mapping = load_mapping("online_retail_ii")
    run_features(spark, root=root, mapping=mapping, as_of=AS_OF, axes_file=None, run_id="fit")
    cfg = {**dict(config.section("fit")), "k_min": 4, "k_max": 4, "save_mllib": False}
    (manifest, _), _ = timed("fit (k=4, not part of the target)", lambda: run_fit(
        spark, root=root, mapping=mapping, as_of=AS_OF.isoformat(), axes_file=None, cfg=cfg))  # fmt: skip
    offsets = [int(o) for o in config.get("history.backfill_offsets")]

    def backfill() -> None:
        for day in backfill_dates(AS_OF, offsets):
            started = time.perf_counter()
            features = run_features(spark, root=root, mapping=mapping, as_of=day, axes_file=None, run_id="bf")
            scored = run_score(spark, root=root, mapping=mapping, as_of=day, manifest=manifest, run_id="bf")
            print(f"  {day}: {features.customers:,} customers, {scored.commit.row_count:,} profiles "
                  f"in {time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip

    _, seconds = timed("backfill, 7 snapshots", backfill)
    print(f"RESULT backfill_7_snapshots_s={seconds:.1f} (target <= 180)")
    _, drift_s = timed("drift against 6 baselines", lambda: run_drift(
        spark, root=root, as_of=AS_OF, cfg=config.section("drift"), run_id="d"))  # fmt: skip
    print(f"RESULT drift_s={drift_s:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
