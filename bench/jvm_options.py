"""`segspark run` on the bundled Online Retail II with the driver JVM started under different options.

On a 2-core machine the JVM's own threads (the C2 compiler, the garbage collector's helpers) compete
with Spark's two task threads. This runs the same whole run once per option set, in rounds, so each
set meets the machine's slow and fast minutes alike, and prints wall time and per-step times.

    .venv/bin/python bench/jvm_options.py [--rounds 2] [--options "" "-XX:+UseParallelGC" ...]

The options reach the driver through SPARK_SUBMIT_OPTS, which the Spark launcher adds to the JVM's
command line; segspark's own `spark.java_options` is emptied for these runs, so the first set, "", is the
JVM's defaults (G1).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OPTIONS = (
    "",
    "-XX:+UseParallelGC",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
)


def one_run(options: str, extra: list[str]) -> tuple[float, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "wh"
        env = {**os.environ, "SPARK_SUBMIT_OPTS": options}
        command = [
            str(Path(sys.executable).parent / "segspark"),
            "run",
            "--config",
            "conf/local.yaml",
            "--set",
            f"warehouse.root={root}",
            "--set",
            "spark.master=local[2]",
            "--set",
            "spark.java_options=",
            *extra,
        ]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"run with {options!r} failed:\n{done.stderr[-3000:]}")
        (summary,) = root.glob("runs/*/summary.json")
        steps = {k: v["seconds"] for k, v in json.loads(summary.read_text())["steps"].items() if "@" not in k}
        return seconds, steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--options", nargs="*", default=list(DEFAULT_OPTIONS))
    ap.add_argument("--set", action="append", default=[], help="extra --set for every run")
    args = ap.parse_args()
    extra = [p for s in args.set for p in ("--set", s)]
    print(machine())
    results: dict[str, list[float]] = {o: [] for o in args.options}
    for r in range(1, args.rounds + 1):
        for options in args.options:
            seconds, steps = one_run(options, extra)
            results[options].append(seconds)
            text = ", ".join(f"{k} {v:.1f}" for k, v in steps.items())
            print(f"round {r} {options or '(JVM defaults)'!s:45} {seconds:7.1f} s  ({text})", flush=True)
    base = sum(results[args.options[0]]) / len(results[args.options[0]])
    print("\nmean wall time, and its ratio to the first option set:")
    for options, times in results.items():
        mean = sum(times) / len(times)
        print(f"  {options or '(JVM defaults)'!s:45} {mean:7.1f} s  {mean / base:5.3f}")


if __name__ == "__main__":
    main()
