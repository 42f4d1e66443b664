"""SIGKILL `segspark run` at random moments across its steps, and check what is left (issue 23).

    .venv/bin/python bench/kills.py [--trials 20] [--seed 7] [--out bench/out/kills.json]

A warehouse holds a committed run as of D-7 (the previous state). A clean `segspark run --as-of D` on a
copy of it gives the reference tables and its duration T. Each trial copies the previous state again,
starts the same run in its own process group, kills the whole group (driver JVM and Python workers)
with SIGKILL at a random moment in (0.03 T, 0.97 T), and then checks:

- every table, read by pandas and DuckDB with no segspark code, holds exactly the rows its commit markers
  count, partition by partition (a killed write shows neither half of a version nor a leftover);
- no `run_id=` directory is visible in any table; staging leftovers stay under `_staging/`;
- the same run, started again, finishes, and its tables equal the clean run's (floats to 9 digits;
  run ids and commit times aside).

A small generated shop (tests/shapes.py: 150 customers over 120 days) on two axes keeps a run near a
minute, so twenty trials take about 40 minutes on 2 cores. Results: docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from segspark.config import shipped_file  # noqa: E402
from segspark.paths import PARTITION_KEYS  # noqa: E402
from segspark.tables import committed  # noqa: E402
from tests.shapes import Shape, write  # noqa: E402

AS_OF, BEFORE = "2024-06-03", "2024-05-27"
TABLES = {t: k for t, k in PARTITION_KEYS.items() if t not in ("tickets", "lookalikes")}  # what a run writes
FINISHED = "finished before the kill"
# Columns that name the run or the moment, not the result.
RUN_COLUMNS = {"run_id"}


def command(mapping: Path, root: Path, axes: Path, as_of: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "segspark.cli",
        "run",
        "--source",
        str(mapping),
        "--as-of",
        as_of,
        "--set",
        f"warehouse.root={root}",
        "--set",
        f"features.axes_file={axes}",
        "--set",
        "fit.k_max=3",
        "--set",
        "history.backfill_offsets=[7]",
        "--set",
        "drift.baselines=[7]",
        "--set",
        "fit.save_mllib=false",
    ]


def run(cmd: list[str], log: Path) -> float:
    started = time.perf_counter()
    with log.open("w") as out:
        subprocess.run(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, check=True, env=_env())
    return time.perf_counter() - started


def _env() -> dict[str, str]:
    return {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYTHONPATH": str(REPO)}


def kill_after(cmd: list[str], seconds: float, log: Path) -> str:
    """Start `cmd`, SIGKILL its process group after `seconds`; return the last step it had announced."""
    with log.open("w") as out:
        child = subprocess.Popen(
            cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=_env(), start_new_session=True
        )
        try:
            child.wait(timeout=seconds)
            return FINISHED
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=60)
    steps = re.findall(r"\[(\d+/\d+)\] (\w+)", log.read_text())
    return f"{steps[-1][1]} ({steps[-1][0]})" if steps else "startup"


def plain_check(root: Path) -> list[str]:
    """What plain readers see that the commits do not say (empty when all is well)."""
    problems = []
    visible_runs = [p for p in root.rglob("run_id=*") if "_staging" not in p.relative_to(root).parts]
    if visible_runs:
        problems.append(f"run_id directories visible: {visible_runs[:3]}")
    con = duckdb.connect()
    for table, key in TABLES.items():
        path = root / table
        expected = {v: c.row_count for v, c in committed(None, root=str(root), table=table, key=key).items()}
        expected = {v: n for v, n in expected.items() if n}
        if not path.exists():
            if expected:
                problems.append(f"{table}: committed but missing")
            continue
        seen = pd.read_parquet(path)[key].astype(str).value_counts().to_dict() if any(path.rglob("*.parquet")) else {}
        if seen != expected:
            problems.append(f"{table}: pandas sees {seen}, commits say {expected}")
        if expected:
            scan = f"read_parquet('{path}/**/*.parquet', hive_partitioning = 1)"
            got = dict(con.sql(f"SELECT CAST({key} AS VARCHAR), count(*) FROM {scan} GROUP BY 1").fetchall())
            if got != expected:
                problems.append(f"{table}: DuckDB sees {got}, commits say {expected}")
    return problems


def table_rows(root: Path) -> dict[str, list[str]]:
    """Every table's rows as sorted JSON lines (floats to 9 digits, run columns dropped)."""
    out = {}
    for table in TABLES:
        path = root / table
        if not path.exists():
            continue
        frame = pd.read_parquet(path).drop(columns=[c for c in RUN_COLUMNS if c in (pd.read_parquet(path).columns)])
        rows = json.loads(frame.to_json(orient="records", double_precision=9, date_format="iso"))
        out[table] = sorted(json.dumps(r, sort_keys=True) for r in rows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "kills.json"))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="segspark-kills-"))
    mapping = write(Shape("kills", customers=150, days=120), work / "shop")
    axes = yaml.safe_load(shipped_file("axes.yaml").read_text())
    for name, axis in axes["axes"].items():
        axis["enabled"] = name in ("purchase_frequency", "product_knowledge")
    axes_file = work / "axes.yaml"
    axes_file.write_text(yaml.safe_dump(axes, sort_keys=False))

    previous = work / "previous"
    print(f"previous state: segspark run --as-of {BEFORE}", flush=True)
    run(command(mapping, previous, axes_file, BEFORE), work / "previous.log")
    clean = work / "clean"
    shutil.copytree(previous, clean)
    took = run(command(mapping, clean, axes_file, AS_OF), work / "clean.log")
    print(f"clean run --as-of {AS_OF}: {took:.1f} s", flush=True)
    reference = table_rows(clean)

    results: list[dict[str, Any]] = []
    # A trial whose run finished before its kill moment is recorded but does not count: keep going until
    # `--trials` runs were really killed (at most twice as many trials).
    for trial in range(2 * args.trials):
        if sum(1 for r in results if r["step"] != FINISHED) == args.trials:
            break
        root = work / f"trial{trial}"
        shutil.copytree(previous, root)
        at = rng.uniform(0.03, 0.97) * took
        step = kill_after(command(mapping, root, axes_file, AS_OF), at, work / f"trial{trial}.log")
        after_kill = plain_check(root)
        staging = sorted(p.name for p in (root / "_staging").glob("*")) if (root / "_staging").exists() else []
        rerun = run(command(mapping, root, axes_file, AS_OF), work / f"trial{trial}-rerun.log")
        after_rerun = plain_check(root)
        rows = table_rows(root)
        differ = [t for t in reference if rows.get(t) != reference[t]]
        result = {
            "trial": trial,
            "killed_at_s": round(at, 1),
            "step": step,
            "plain_readers": after_kill or "exact",
            "staging_left": len(staging),
            "rerun_s": round(rerun, 1),
            "rerun_plain_readers": after_rerun or "exact",
            "tables_differing_from_clean": differ,
        }
        results.append(result)
        print(json.dumps(result), flush=True)
    killed = [r for r in results if r["step"] != FINISHED]
    held = sum(
        1
        for r in killed
        if r["plain_readers"] == "exact"
        and r["rerun_plain_readers"] == "exact"
        and not r["tables_differing_from_clean"]
    )
    steps = sorted({r["step"] for r in killed})
    summary = {
        "date": time.strftime("%Y-%m-%d"),
        "clean_run_s": round(took, 1),
        "trials": len(results),
        "killed": len(killed),
        "held": held,
        "steps_hit": steps,
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=1))
    print(
        f"{held}/{len(killed)} kills held ({len(results)} trials; steps hit: {', '.join(steps)}); "
        f"details in {args.out} (work dir {work})"
    )


if __name__ == "__main__":
    main()
