"""One SparkSession for the whole suite (startup costs ~6 s), and small helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
FIXTURES = Path(__file__).resolve().parent / "data"


# Modules that share a session fixture dear enough to build once (a whole `segspark run`, a wheel). Under
# pytest-xdist (`make test` runs two workers) they run on one worker, which builds it once.
SHARED_FIXTURE_MODULES = {
    "test_open_tables": "shop_run",
    "test_public_api": "shop_run",
    "test_user_export": "shop_run",
    "test_local_cluster": "wheel",
    "test_packaging": "wheel",
}


# The dearest modules (a minute or more each, mostly subprocess JVMs) start first, so that no worker is left
# with one of them at the end while the other idles.
DEAREST_FIRST = (
    "test_user_export",
    "test_open_tables",
    "test_public_api",
    "test_local_cluster",
    "test_packaging",
    "test_weekly_replay",
    "test_notebook",
    "test_shapes",
    "test_crash_safety",
    "test_features_edges",
    "test_ingest_timezone",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the dearest modules first (a stable sort: the order within a module stays)."""

    def rank(item: pytest.Item) -> int:
        stem = item.path.stem
        return DEAREST_FIRST.index(stem) if stem in DEAREST_FIRST else len(DEAREST_FIRST)

    items.sort(key=rank)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadscope` by module (module fixtures are built once), with the modules above grouped, in
    collection order (dearest first), not xdist's default of most tests first."""
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False

    class ByModule(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return SHARED_FIXTURE_MODULES.get(Path(module).stem, module)

    return ByModule(config, log)


@pytest.fixture(scope="session", autouse=True)
def no_claude_key() -> Iterator[None]:
    """No test reaches the real API: a key in the caller's environment is hidden for the whole session."""
    saved = {k: os.environ.pop(k) for k in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL") if k in os.environ}
    yield
    os.environ.update(saved)


# How Spark executes the suite's small inputs; the results do not depend on it. On data this small a query's
# fixed costs dominate: compiling generated code (and then JIT-compiling the generated classes), planning
# adaptive stages and collecting broadcast sides as jobs of their own. Interpreted expressions and sort-merge
# joins give the same rows in a quarter less time on a warm `segspark run` (docs/benchmarks.md). Shipped runs keep
# Spark's defaults; tests of the defaults themselves use the `shipped_execution` fixture.
SMALL_DATA_EXECUTION = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.sql.autoBroadcastJoinThreshold": "-1",
}


# The JVMs the suite starts in subprocesses live for one short command and run each piece of code a few
# times: C2's compilations never pay for themselves there (a local-cluster run 96.6 -> 71.7 s with C1 only,
# docs/benchmarks.md). The suite's own long-lived session keeps the full JIT. The parallel collector, which
# segspark's own driver uses, also for spark-submit's driver and the executors (G1's concurrent threads made
# the local-cluster run 8% slower).
SUBPROCESS_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseParallelGC"


@pytest.fixture(scope="session", autouse=True)
def subprocess_spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str | None]]:
    """Settings for the JVMs the suite starts in subprocesses (spark-submit, `segspark` commands, the notebook's
    kernel, the Spark Connect server and local-cluster executors), through the environment they inherit:
    $SPARK_CONF_DIR/spark-defaults.conf (below anything a session sets itself) and SPARK_SUBMIT_OPTS.
    Yields the environment as it was, for the suite's own session."""
    conf_dir = tmp_path_factory.mktemp("spark-conf")
    defaults = {
        **SMALL_DATA_EXECUTION,
        "spark.executor.extraJavaOptions": SUBPROCESS_JVM_OPTIONS,
        # A spark-submit session is the launcher's, with Spark's 200 shuffle partitions: 200 tasks per shuffle
        # on 30 customers made the local-cluster run's features 22 s instead of 6 (a session segspark builds
        # sets spark.shuffle_partitions itself, over this).
        "spark.sql.shuffle.partitions": "2",
    }
    (conf_dir / "spark-defaults.conf").write_text("".join(f"{key} {value}\n" for key, value in defaults.items()))
    saved = {name: os.environ.get(name) for name in ("SPARK_CONF_DIR", "SPARK_SUBMIT_OPTS")}
    os.environ["SPARK_CONF_DIR"] = str(conf_dir)
    os.environ["SPARK_SUBMIT_OPTS"] = f"{saved['SPARK_SUBMIT_OPTS'] or ''} {SUBPROCESS_JVM_OPTIONS}".strip()
    yield saved
    _restore(saved)


def _restore(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


# Autouse: the first in-process `segspark` command of a worker would otherwise start the worker's session
# itself, with the shipped settings and the subprocess JVMs' options, and every later test would get that one.
@pytest.fixture(scope="session", autouse=True)
def spark(subprocess_spark: dict[str, str | None]) -> Iterator[SparkSession]:
    """A local[2] session with the settings segspark itself uses, and the suite's small-data execution."""
    from segspark.config import load_config
    from segspark.session import get_spark

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # The shipped JVM options too (the parallel collector), as `segspark` itself starts its driver.
    java_options = load_config([]).get("spark.java_options")
    # Its JVM starts with the caller's SPARK_SUBMIT_OPTS, not the subprocesses' ones.
    for_subprocesses = {"SPARK_SUBMIT_OPTS": os.environ.get("SPARK_SUBMIT_OPTS")}
    _restore({"SPARK_SUBMIT_OPTS": subprocess_spark["SPARK_SUBMIT_OPTS"]})
    session = get_spark(
        {
            "master": "local[2]",
            "shuffle_partitions": 2,
            "driver_memory": "2g",
            "ui_enabled": False,
            "java_options": java_options,
            # Adaptive execution is set by segspark's own builder, so it is turned off here, not in the defaults.
            "extra": {**SMALL_DATA_EXECUTION, "spark.sql.adaptive.enabled": "false"},
        }
    )
    _restore(for_subprocesses)
    # Built here, not found already running with other settings.
    assert session.conf.get("spark.sql.shuffle.partitions") == "2", "a session was started before the suite's"
    yield session
    session.stop()


@pytest.fixture
def shipped_execution(spark: SparkSession) -> Iterator[SparkSession]:
    """The session with Spark's execution defaults, as segspark ships them (code generation, adaptive
    execution, broadcast joins), for tests of those mechanisms; the suite's settings come back after."""
    keys = [*SMALL_DATA_EXECUTION, "spark.sql.adaptive.enabled"]
    saved = {key: spark.conf.get(key) for key in keys}
    for key in keys:
        spark.conf.unset(key)  # back to Spark's default
    yield spark
    for key, value in saved.items():
        spark.conf.set(key, value)


@pytest.fixture
def warehouse(tmp_path: Path) -> str:
    """A fresh, validated warehouse root."""
    from segspark.paths import check_warehouse

    return check_warehouse(str(tmp_path / "wh"))


def axes_subset(where: Path, enabled: Iterable[str]) -> Path:
    """The shipped axes file with only `enabled` switched on, written under `where`: a fit costs time per axis,
    so a test enables the axes it asserts on."""
    import yaml

    from segspark.config import shipped_file

    keep = set(enabled)
    axes = yaml.safe_load(shipped_file("axes.yaml").read_text())
    assert keep <= set(axes["axes"]), keep - set(axes["axes"])
    for name, axis in axes["axes"].items():
        axis["enabled"] = name in keep
    path = where / "axes.yaml"
    path.write_text(yaml.safe_dump(axes, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def orii_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every 60th customer of the bundled Online Retail II (about 100 customers, 14k lines) plus some guest
    lines, as the source file a subprocess run reads with `--input`."""
    import numpy as np
    import pandas as pd

    df = pd.read_parquet(DATA / "online_retail_ii" / "online_retail_ii.parquet")
    ids = np.sort(df["Customer ID"].dropna().unique())
    keep = df["Customer ID"].isin(set(ids[::60])) | (df["Customer ID"].isna() & (df.index % 1000 == 0))
    path = tmp_path_factory.mktemp("orii") / "orii_slice.parquet"
    df[keep].to_parquet(path, index=False)
    return path


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package built as a wheel, as `make wheel` builds it."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(REPO)],
        check=True,
        timeout=600,
    )
    (path,) = out.glob("segspark-*.whl")
    return path


@pytest.fixture(scope="session")
def shop_run(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse of one `segspark run` on the shop export (tests/data/shop_export.*), shared by the tests
    that read a whole run's tables."""
    from segspark.cli import main

    root = tmp_path_factory.mktemp("shop") / "wh"
    code = main(
        [
            "run",
            "--source",
            str(FIXTURES / "shop_export.yaml"),
            "--as-of",
            "2023-06-01",
            "--set",
            f"warehouse.root={root}",
            "--set",
            "ingest.max_order_ts=2030-01-01",
            "--set",
            "fit.save_mllib=false",
            "--set",
            "fit.k_max=3",
            "--set",
            "history.backfill_offsets=[31]",
            "--set",
            "drift.baselines=[31]",
            "--set",
            "fit.min_segment_customers=1",  # a 3-customer export
        ]
    )
    assert code == 0
    return root
