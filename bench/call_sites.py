"""Warm `segspark run`s with PySpark's DataFrame debugging (Python call sites of Column calls) on and off.

PySpark 4 records the call site of every Column function for its error messages, about ten round trips to
the JVM per call; a session segspark builds turns it off (`spark.python.sql.dataFrameDebugging.enabled`).
PySpark reads the setting once per process, so each setting runs in a process of its own: one session,
`--runs` whole runs of the bundled 3-customer shop export (every axis, one backfill date), the first one
cold. Settings alternate in rounds so both meet the machine's slow and fast minutes; the ratio compares the
medians of the warm runs (all but the first of each process). `--small-data` runs with the test suite's
execution settings (interpreted expressions, no adaptive execution or broadcast joins, no MLlib copies),
where the driver's Python side is a larger share of a run.

    .venv/bin/python bench/call_sites.py [--rounds 2] [--runs 3] [--small-data]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def child(debugging: str, runs: int, small_data: bool) -> None:
    """Print a JSON list of the wall times of `runs` whole runs in one session."""
    from segspark.cli import main
    from segspark.session import get_spark
    from tests.conftest import SMALL_DATA_EXECUTION

    # The suite's session: its small-data execution, with adaptive execution off.
    small = {**SMALL_DATA_EXECUTION, "spark.sql.adaptive.enabled": "false"} if small_data else {}
    get_spark(
        {
            "master": "local[2]",
            "shuffle_partitions": 2,
            "driver_memory": "2g",
            "extra": {**small, "spark.python.sql.dataFrameDebugging.enabled": debugging},
        }
    )
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            code = main(
                [
                    "run",
                    "--source",
                    str(REPO / "tests" / "data" / "shop_export.yaml"),
                    "--as-of",
                    "2023-06-01",
                    "--set",
                    f"warehouse.root={tmp}/wh",
                    "--set",
                    "ingest.max_order_ts=2030-01-01",
                    "--set",
                    "fit.k_max=3",
                    "--set",
                    "fit.min_segment_customers=1",
                    "--set",
                    "history.backfill_offsets=[31]",
                    "--set",
                    "drift.baselines=[31]",
                    *(["--set", "fit.save_mllib=false"] if small_data else []),
                ]
            )
            if code != 0:
                sys.exit(f"run failed with debugging={debugging}")
            times.append(time.perf_counter() - started)
    print("TIMES " + json.dumps(times), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--small-data", action="store_true", help="the test suite's execution settings")
    parser.add_argument("--child", choices=("true", "false"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.runs, args.small_data)
        return
    sys.path.insert(0, str(REPO / "bench"))
    from _common import machine

    print(f"machine: {machine()}; {'the suite' if args.small_data else 'shipped'} execution settings")
    warm: dict[str, list[float]] = {"true": [], "false": []}
    for round_ in range(1, args.rounds + 1):
        for setting in ("true", "false"):
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    setting,
                    "--runs",
                    str(args.runs),
                    *(["--small-data"] if args.small_data else []),
                ],
                capture_output=True,
                text=True,
            )
            lines = [line for line in done.stdout.splitlines() if line.startswith("TIMES ")]
            if done.returncode != 0 or not lines:
                sys.exit(f"debugging={setting} failed:\n{done.stderr[-3000:]}")
            times = json.loads(lines[-1].removeprefix("TIMES "))
            warm[setting] += times[1:]
            shown = ", ".join(f"{t:.1f}" for t in times)
            print(f"round {round_}, debugging {setting}: runs {shown} s (first cold)", flush=True)
    on, off = statistics.median(warm["true"]), statistics.median(warm["false"])
    print(f"warm run, median: debugging on {on:.1f} s, off {off:.1f} s; off/on = {off / on:.2f}")


if __name__ == "__main__":
    main()
