"""Where the Online Retail II fit spends its time (issue 4): Spark jobs by call site, and the JVM's CPU.

Ingests Online Retail II, computes its features as of 2011-12-10 and fits the model `--runs` times in
one local[2] process with the Spark UI on. Prints each fit's wall time and the CPU time of the JVM
during it, then, from the UI's REST API, the jobs grouped by call site (count, stages, summed
duration) of the fits, and how much of their span had at least one job running.

    .venv/bin/python bench/fit_profile.py [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import machine

from segspark.config import load_config
from segspark.features.axes import load_axes
from segspark.features.engine import compute_features
from segspark.ingest.validate import validate
from segspark.mapping import load_mapping
from segspark.model.fit import fit_model
from segspark.paths import check_warehouse
from segspark.session import get_spark
from segspark.tables import read_partitions


def jvm_cpu_seconds() -> float:
    """User + system CPU of this process's children (the local JVM), from /proc."""
    me, total = str(os.getpid()), 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _time(stamp: str) -> datetime:
    return datetime.strptime(stamp.replace("GMT", ""), "%Y-%m-%dT%H:%M:%S.%f")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    keep = {"spark.ui.retainedJobs": "100000", "spark.ui.retainedStages": "100000"}
    spark = get_spark(
        {"master": "local[2]", "shuffle_partitions": 8, "driver_memory": "8g", "ui_enabled": True, "extra": keep}
    )
    root = check_warehouse(str(Path(tempfile.mkdtemp(prefix="segspark-bench-")) / "wh"))
    validate(spark, load_mapping("online_retail_ii"), root=root, run_id="bench", max_malformed_fraction=0.01)
    orders = read_partitions(spark, root=root, table="orders", key="source").drop("source")
    feats, _ = compute_features(orders, load_axes(), as_of=date(2011, 12, 10), zone="Europe/London")
    feats.write.parquet(f"{root}/bench_features")
    features = spark.read.parquet(f"{root}/bench_features")
    cfg = dict(load_config().section("fit"))
    url = spark.sparkContext.uiWebUrl
    app = json.load(urllib.request.urlopen(f"{url}/api/v1/applications"))[0]["id"]
    before = max(j["jobId"] for j in json.load(urllib.request.urlopen(f"{url}/api/v1/applications/{app}/jobs")))
    for run in range(args.runs):
        started, cpu = time.perf_counter(), jvm_cpu_seconds()
        fit_model(features, load_axes(), as_of="2011-12-10", source="orii", cfg=cfg)
        print(f"fit {run + 1}: {time.perf_counter() - started:.1f} s wall, {jvm_cpu_seconds() - cpu:.1f} s JVM CPU")

    jobs = [
        j
        for j in json.load(urllib.request.urlopen(f"{url}/api/v1/applications/{app}/jobs"))
        if j["jobId"] > before and "completionTime" in j
    ]
    spans = sorted((_time(j["submissionTime"]), _time(j["completionTime"])) for j in jobs)
    busy, (start, end) = 0.0, spans[0]
    for s, e in spans[1:]:
        if s > end:
            busy, start = busy + (end - start).total_seconds(), s
        end = max(end, e)
    busy += (end - start).total_seconds()
    print(
        f"{len(jobs)} jobs in the fits; at least one running for {busy:.1f} s of "
        f"{(spans[-1][1] - spans[0][0]).total_seconds():.1f} s"
    )
    sites: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for j in jobs:
        site = sites[j["name"].rsplit(" at ", 1)[-1]]
        site[0] += 1
        site[1] += len(j["stageIds"])
        site[2] += (_time(j["completionTime"]) - _time(j["submissionTime"])).total_seconds()
    for name, (n, stages, seconds) in sorted(sites.items(), key=lambda kv: -kv[1][2])[:15]:
        print(f"{n:6.0f} jobs {stages:6.0f} stages {seconds:7.1f} s  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
