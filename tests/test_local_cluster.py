"""On real executors, deployed as a user deploys: `spark-submit --py-files segspark-*.whl jobs/run.py` on
local-cluster[2,1,1024] (two executor JVMs, serialised tasks, a real block manager, the package shipped to the
executors as a wheel), under TZ=America/New_York, writes the same tables as an in-process run on local[2] under
the suite's zone (issues 23 and 24; the 5M-line version is in bench/scale.py, the whole-run determinism matrix
in bench/determinism.py).

Nothing here can lean on driver and executors sharing a JVM, or on the source tree: closures, the scoring
pass's Python workers, broadcasts, the session time zone and the model files all cross a process boundary,
and the driver imports segspark from the wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from chispa import assert_approx_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segspark import __version__
from segspark.cli import main
from segspark.model.manifest import load_manifest
from segspark.tables import read_partitions
from tests.conftest import REPO, axes_subset
from tests.shapes import SHAPES, write

# A short run: the tiny shop on two axes with k up to 3 and one backfill date and baseline (each KMeans iteration
# and every small step is a job, and jobs cost more on executors of their own).
SETTINGS = ["--set", "history.backfill_offsets=[7]", "--set", "drift.baselines=[7]", "--set", "fit.k_max=3"]
AXES = ("purchase_frequency", "product_knowledge")
MASTER = "local-cluster[2,1,1024]"


def _summary(root: Path) -> dict:
    return dict(json.loads(sorted(root.glob("runs/*/summary.json"))[-1].read_text()))


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> tuple[Path, Path, str]:
    tmp = tmp_path_factory.mktemp("cluster")
    mapping = write(SHAPES["tiny"], tmp)
    settings = [*SETTINGS, "--set", f"features.axes_file={axes_subset(tmp, AXES)}"]
    here, there = tmp / "local", tmp / "cluster"
    assert main(["run", "--source", str(mapping), "--set", f"warehouse.root={here}", *settings]) == 0
    # In another time zone too: the tables may depend on neither the driver's nor the executors' zone.
    env = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "TZ": "America/New_York",
    }
    env.pop("PYTHONPATH", None)
    cmd = [
        str(Path(sys.executable).parent / "spark-submit"),
        "--master",
        MASTER,
        "--driver-memory",
        "1g",
        "--py-files",
        str(wheel),
        "--conf",
        "spark.log.level=WARN",
        # As docs/guide.md advises for spark-submit (a session segspark builds has it).
        "--conf",
        "spark.python.sql.dataFrameDebugging.enabled=false",
        str(REPO / "jobs" / "run.py"),
        "--source",
        str(mapping),
        "--set",
        f"warehouse.root={there}",
        *settings,
    ]
    # Run from an empty directory: nothing may come from the source tree.
    done = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (run_log,) = there.glob("runs/*/segspark.log")
    return here, there, done.stdout + done.stderr + run_log.read_text()


def _table(spark: SparkSession, root: Path, table: str, day: str) -> DataFrame:
    return read_partitions(spark, root=str(root), table=table, key="snapshot_date", values=[day])


def test_the_run_used_separate_executors_and_the_wheel(two_runs: tuple[Path, Path, str], wheel: Path) -> None:
    _, there, log = two_runs
    assert f"({MASTER})" in log and "using the launcher's Spark" in log
    # The package ran from the wheel (a zip on sys.path), not from the source tree.
    assert f"segspark {__version__} from {wheel}/segspark" in log
    assert sorted(load_manifest(_summary(there)["steps"]["fit"]["model"]).axes) == sorted(AXES)
    (report,) = there.glob("reports/*/index.html")
    assert f"report: {report}" in log and "[7/7] report done" in log


def test_features_and_model_match_local_mode(spark: SparkSession, two_runs: tuple[Path, Path, str]) -> None:
    here, there, _ = two_runs
    a, b = _summary(here), _summary(there)
    assert a["as_of"] == b["as_of"] and a["backfill_skipped"] == b["backfill_skipped"]
    days = [a["as_of"], *[s["as_of"] for k, s in a["steps"].items() if k.startswith("features@")]]
    for day in days:
        assert_approx_df_equality(
            _table(spark, here, "features", day),
            _table(spark, there, "features", day),
            precision=1e-9,
            ignore_row_order=True,
            ignore_column_order=False,
        )
    m1, m2 = load_manifest(a["steps"]["fit"]["model"]), load_manifest(b["steps"]["fit"]["model"])
    assert m1.model_version == m2.model_version  # fitted on the same rows with the same settings
    assert list(m1.axes) == list(m2.axes) and m1.skipped_axes == m2.skipped_axes
    for name, axis in m1.axes.items():
        other = m2.axes[name]
        assert (axis.k, axis.segment_ids, axis.names, axis.sizes) == (
            other.k,
            other.segment_ids,
            other.names,
            other.sizes,
        )
        np.testing.assert_allclose(axis.centers_scaled, other.centers_scaled, rtol=0, atol=1e-9)
    assert m1.archetypes == m2.archetypes


def _long(df: DataFrame) -> DataFrame:
    """Profiles as (customer, position, distance) rows plus the categorical columns: comparable with a tolerance."""
    return df.select(
        "customer_id", "archetype_id", "archetype_is_new", F.posexplode("fingerprint").alias("pos", "distance")
    )


def test_profiles_and_drift_match_local_mode(spark: SparkSession, two_runs: tuple[Path, Path, str]) -> None:
    here, there, _ = two_runs
    day = _summary(here)["as_of"]
    p1, p2 = _table(spark, here, "customer_profiles", day), _table(spark, there, "customer_profiles", day)
    assert p1.count() == p2.count() == _summary(here)["steps"]["score"]["rows"]
    assert_approx_df_equality(_long(p1), _long(p2), precision=1e-9, ignore_row_order=True)
    d1, d2 = _table(spark, here, "drift", day), _table(spark, there, "drift", day)
    assert d1.count() > 0
    cols = ["customer_id", "baseline_date", "days_elapsed", "overall_alert", "migrated", "churn_risk"]
    assert_approx_df_equality(d1.select(*cols), d2.select(*cols), precision=1e-9, ignore_row_order=True)
