"""The scheduled command replayed week after week on Online Retail II (issue 21).

An initial `segspark run` as of an earlier Monday on the history before it, then `segspark weekly` for
each following Monday with that week's orders delivered as a new file into the inbox (earlier files
stay there: the ledger must ingest each once). Everything runs in one process on one local[2] session,
so the initial run (JVM already warm after the first step) and every week are timed alike.

Target: a steady-state weekly run (the mean of the last four weeks) costs at most a third of the
initial run. A no-op rerun of the last week is timed too.

    .venv/bin/python bench/weekly.py [--weeks 8] [--start 2011-10-10] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import machine, spark_local2

from segspark.config import load_config
from segspark.context import make_context
from segspark.pipeline import run_pipeline
from segspark.schedule.weekly import inbox_inputs, run_week

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "data" / "online_retail_ii" / "online_retail_ii.parquet"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--start", default="2011-10-10", help="the initial run's as-of date (a Monday)")
    parser.add_argument("--set", action="append", default=[], dest="sets", metavar="KEY=VALUE")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    start = date.fromisoformat(args.start)
    tmp = Path(tempfile.mkdtemp(prefix="segspark-weekly-"))
    lines = pd.read_parquet(SOURCE)
    when = pd.to_datetime(lines["InvoiceDate"])
    history = tmp / "history.parquet"
    lines[when < pd.Timestamp(start)].to_parquet(history, index=False)
    inbox = tmp / "inbox"
    inbox.mkdir()
    sets = [f"warehouse.root={tmp / 'wh'}", f"schedule.inbox={inbox}", "spark.master=local[2]", *args.sets]
    config = load_config([REPO / "conf" / "local.yaml"], sets)
    spark_local2()  # the session every step below reuses

    started = time.perf_counter()
    run_pipeline(config, as_of=start.isoformat(), input_path=str(history))
    initial = time.perf_counter() - started
    print(f"RESULT initial run as of {start}: {initial:.1f} s", flush=True)

    rows = []
    for i in range(1, args.weeks + 1):
        day = start + timedelta(days=7 * i)
        delivery = lines[(when >= pd.Timestamp(day - timedelta(days=7))) & (when < pd.Timestamp(day))]
        delivery.to_parquet(inbox / f"orders_{day}.parquet", index=False)
        began = time.perf_counter()
        week = run_week(make_context(config), day, inputs=inbox_inputs(str(inbox)))
        seconds = time.perf_counter() - began
        rows.append((day, len(delivery), seconds, week.refit_reasons, week.baselines_computed))
        print(
            f"RESULT week {day}: {seconds:.1f} s, ratio {seconds / initial:.2f}, {len(delivery):,} new lines, "
            f"computed baselines {[d.isoformat() for d in week.baselines_computed]}, "
            f"refit {week.refit_reasons or 'no'}",
            flush=True,
        )

    began = time.perf_counter()
    idle = run_week(make_context(config), rows[-1][0], inputs=inbox_inputs(str(inbox)))
    print(
        f"RESULT rerun of {rows[-1][0]} (complete, nothing new): {time.perf_counter() - began:.2f} s, "
        f"did nothing: {idle.complete_already}"
    )

    print("\n| week | new lines | seconds | ratio to initial | baselines computed | refit |")
    print("|---|---|---|---|---|---|")
    for day, n, seconds, refit, computed in rows:
        print(
            f"| {day} | {n:,} | {seconds:.1f} | {seconds / initial:.2f} | {len(computed)} | "
            f"{'yes' if refit else 'no'} |"
        )
    steady = sum(r[2] for r in rows[-4:]) / len(rows[-4:])
    verdict = "met" if steady <= initial / 3 else "NOT met"
    print(
        f"\nRESULT steady state (mean of the last {len(rows[-4:])} weeks): {steady:.1f} s against "
        f"{initial:.1f} s initial, ratio {steady / initial:.2f} (target <= 0.33: {verdict})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
