"""`segspark run` on the bundled Online Retail II, timed from process start to the report (issue 9).

Target: at most 180 s on 2 cores (local[2]), JVM start included. The baseline measured in the same
run is a process that starts Spark and reads the source once (what any run pays before segmenting);
the script prints the run's wall time, its per-step times and the ratio to that baseline.

    .venv/bin/python bench/demo.py [--set key=value ...]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine

REPO = Path(__file__).resolve().parent.parent
TARGET = 180.0
BASELINE = """
from segspark.session import get_spark
spark = get_spark({"master": "local[2]", "shuffle_partitions": 8,
                   "extra": {"spark.sql.legacy.parquet.nanosAsLong": "true"}})
print(spark.read.parquet("data/online_retail_ii/online_retail_ii.parquet").count())
"""


def wall(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{command[:3]} failed:\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", default=[], dest="sets", metavar="KEY=VALUE")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    base, _ = wall([sys.executable, "-c", BASELINE])
    print(f"baseline (start Spark, read the source once): {base:.1f} s", flush=True)
    root = Path(tempfile.mkdtemp(prefix="segspark-demo-")) / "wh"
    sets = [x for s in args.sets for x in ("--set", s)]
    command = [
        sys.executable,
        "-m",
        "segspark.cli",
        "run",
        "--config",
        "conf/local.yaml",
        "--set",
        "spark.master=local[2]",
        "--set",
        f"warehouse.root={root}",
        *sets,
    ]
    seconds, out = wall(command)
    steps = re.findall(r"^  (\S+)\s+([\d.]+)s", out, flags=re.MULTILINE)
    for name, secs in steps:
        print(f"  {name:<24} {float(secs):7.1f} s")
    report = re.search(r"^report: (.+)$", out, flags=re.MULTILINE)
    print(
        f"segspark run, process start to report: {seconds:.1f} s (target <= {TARGET:.0f} s: "
        f"{'met' if seconds <= TARGET else 'NOT met'}); ratio to baseline {seconds / base:.1f}"
    )
    print(f"report: {report.group(1) if report else '(none)'}")


if __name__ == "__main__":
    main()
