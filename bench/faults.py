"""`segspark run` with first-attempt task failures injected, on local[2,4] (issue 23).

    .venv/bin/python bench/faults.py [--share 0.25] [--shop tickets]

Spark retries a failed task (up to 4 attempts on `local[2,4]`). This runs the whole pipeline twice on a
generated shop from the test suite's shapes: once clean on local[2], once on local[2,4] with a
pass-through Arrow stage in front of every table read and every table write whose first attempt fails
in about `--share` of the tasks (chosen by a hash of stage and partition, so the same tasks fail
whatever the timing). The scoring pass's own Arrow stage gets the same treatment. Each injected
failure leaves a marker file, so the count shows that the injection fired; then the two warehouses
are compared table by table (bench/compare_warehouses.py). Results: docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SETTINGS = [
    "--set",
    "spark.shuffle_partitions=8",
    "--set",
    "fit.save_mllib=false",
    "--set",
    "fit.k_max=4",
    "--set",
    "history.backfill_offsets=[7,28]",
    "--set",
    "drift.baselines=[7,28]",
]


def flaky(markers: str, share: float) -> Any:
    """A pass-through Arrow function whose first attempt fails in about `share` of the tasks."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        assert ctx is not None
        where = f"{ctx.stageId()}-{ctx.partitionId()}"
        if ctx.attemptNumber() == 0 and zlib.crc32(where.encode()) % 1000 < share * 1000:
            Path(markers, where).touch()
            raise RuntimeError(f"injected first-attempt failure of task {where}")
        if ctx.attemptNumber() > 0:
            Path(markers, f"{where}.retry{ctx.attemptNumber()}").touch()
        else:
            Path(markers, f"{where}.ok").touch()
        yield from batches

    return run


def child(mapping: str, root: str, markers: str, share: float) -> int:
    """The faulty run: patch every table read and write (and the scorer) with the flaky stage, then run."""
    from pyspark.sql import DataFrame

    from segspark import tables
    from segspark.cli import main
    from segspark.score import spark as score_spark

    inject = flaky(markers, share)

    def wrap(df: DataFrame) -> DataFrame:
        return df.mapInArrow(inject, df.schema)

    real_read, real_write, real_scorer = tables.read_partitions, tables.write_partition, score_spark._scorer

    def read(*args: Any, **kwargs: Any) -> DataFrame:
        return wrap(real_read(*args, **kwargs))

    def write(df: DataFrame, **kwargs: Any) -> Any:
        return real_write(wrap(df), **kwargs)

    def scorer(model: Any) -> Any:
        score = real_scorer(model)

        def both(batches: Iterator[Any]) -> Iterator[Any]:
            yield from score(inject(batches))

        return both

    # Modules import these by name: replace every reference.
    for module in [m for name, m in sys.modules.items() if name.startswith("segspark")]:
        for name, real, fake in (
            ("read_partitions", real_read, read),
            ("write_partition", real_write, write),
            ("_scorer", real_scorer, scorer),
        ):
            if getattr(module, name, None) is real:
                setattr(module, name, fake)
    return main(
        ["run", "--source", mapping, "--set", f"warehouse.root={root}", "--set", "spark.master=local[2,4]", *SETTINGS]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--share", type=float, default=0.25)
    parser.add_argument("--shop", default="tickets", help="a shape of tests/shapes.py")
    parser.add_argument("--child", nargs=3, metavar=("MAPPING", "ROOT", "MARKERS"), help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "faults.json"))
    args = parser.parse_args()
    if args.child:
        sys.exit(child(*args.child, share=args.share))

    from tests.shapes import SHAPES, write

    work = Path(tempfile.mkdtemp(prefix="segspark-faults-"))
    mapping = write(SHAPES[args.shop], work / "shop")
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYTHONPATH": str(REPO)}
    clean, faulty, markers = work / "clean", work / "faulty", work / "markers"
    markers.mkdir()
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "segspark.cli",
            "run",
            "--source",
            str(mapping),
            "--set",
            f"warehouse.root={clean}",
            *SETTINGS,
        ],
        cwd=REPO,
        env=env,
        check=True,
        stdout=(work / "clean.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    clean_s = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, __file__, "--share", str(args.share), "--child", str(mapping), str(faulty), str(markers)],
        cwd=REPO,
        env=env,
        check=True,
        stdout=(work / "faulty.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    faulty_s = time.perf_counter() - started
    failed = [p.name for p in markers.iterdir() if "." not in p.name]
    retried = [p.name for p in markers.iterdir() if ".retry" in p.name]
    passed_first = [p.name for p in markers.iterdir() if p.name.endswith(".ok")]
    compared = subprocess.run(
        [sys.executable, str(REPO / "bench" / "compare_warehouses.py"), str(clean), str(faulty)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "shop": args.shop,
        "share": args.share,
        "clean_s": round(clean_s, 1),
        "faulty_s": round(faulty_s, 1),
        "injected_failures": len(failed),
        "retried_tasks": len(retried),
        "tasks_wrapped": len(failed) + len(passed_first),
        "stages_hit": len({f.split("-")[0] for f in failed}),
        "tables_equal": compared.returncode == 0,
        "comparison": compared.stdout[-3000:],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "comparison"}))
    print(compared.stdout[-3000:])
    print(f"work dir {work}")


if __name__ == "__main__":
    main()
