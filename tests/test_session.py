"""The local session segspark starts: its logging configuration and JVM options, and its code cache."""

from __future__ import annotations

import os
import re
from pathlib import Path

from pyspark.sql import SparkSession

from segspark.session import driver_java_options


def test_local_session_logs_with_the_shipped_log4j_config(spark: SparkSession) -> None:
    options = str(spark.conf.get("spark.driver.extraJavaOptions"))
    flag = "-Dlog4j2.configurationFile="
    assert flag in options
    path = Path(options.split(flag, 1)[1].split()[0])
    assert path.name == "log4j2.properties" and path.parent.name == "conf"
    # The JVM really runs with it: Spark's warning for the price ladder's unpartitioned window is silenced
    # (ERROR), everything else stays at WARN. Read from log4j itself, not from the file.
    log_manager = spark._jvm.org.apache.logging.log4j.LogManager  # type: ignore[union-attr]
    assert str(log_manager.getLogger("org.apache.spark.sql.execution.window.WindowExec").getLevel()) == "ERROR"
    assert str(log_manager.getLogger("org.apache.spark.scheduler.DAGScheduler").getLevel()) == "WARN"
    assert str(log_manager.getRootLogger().getLevel()) == "WARN"


def test_the_driver_runs_with_the_configured_collector(spark: SparkSession) -> None:
    # conftest passes the shipped spark.java_options (the parallel collector); one chosen in the environment
    # would win over it (a JVM refuses two collectors).
    environment = " ".join(os.environ.get(n, "") for n in ("SPARK_SUBMIT_OPTS", "JAVA_TOOL_OPTIONS"))
    expected = re.findall(r"-XX:\+Use\w+GC", environment)[-1:] or ["-XX:+UseParallelGC"]
    runtime = spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()  # type: ignore[union-attr]
    arguments = [str(a) for a in runtime.getInputArguments()]
    assert [a for a in arguments if re.fullmatch(r"-XX:\+Use\w+GC", a)] == expected


def test_column_functions_record_no_python_call_site(spark: SparkSession) -> None:
    # PySpark 4's DataFrame debugging makes about ten JVM round trips per Column function call to record
    # its call site; a session segspark builds turns it off, and PySpark (which reads it once) honours that.
    from pyspark.errors.utils import is_debugging_enabled
    from pyspark.sql import functions as F

    assert spark.conf.get("spark.python.sql.dataFrameDebugging.enabled") == "false"
    spark.range(1).select(F.col("id") + 1).collect()
    assert not is_debugging_enabled()


def test_java_options_come_first_and_an_environment_collector_wins(tmp_path: Path) -> None:
    conf = tmp_path / "log4j2.properties"
    conf.write_text("")
    shipped = "-XX:+UseParallelGC -Xss4m"
    assert driver_java_options(shipped, conf, {}) == f"-XX:+UseParallelGC -Xss4m -Dlog4j2.configurationFile={conf}"
    for name in ("SPARK_SUBMIT_OPTS", "JAVA_TOOL_OPTIONS"):
        assert driver_java_options(shipped, conf, {name: "-Xmx1g -XX:+UseG1GC"}) == (
            f"-Xss4m -Dlog4j2.configurationFile={conf}"
        )
    # Other environment options leave the configured collector alone; no config and no file give nothing.
    assert driver_java_options(shipped, None, {"SPARK_SUBMIT_OPTS": "-XX:TieredStopAtLevel=1"}) == shipped
    assert driver_java_options(None, tmp_path / "missing.properties", {}) == ""


def _compilations(spark: SparkSession) -> int:
    """Classes Spark's code generator has compiled in this JVM (cache misses only)."""
    metrics = spark._jvm.org.apache.spark.metrics.source.CodegenMetrics  # type: ignore[union-attr]
    return int(metrics.METRIC_COMPILATION_TIME().getCount())


def test_a_repeated_feature_computation_reuses_its_compiled_code(shipped_execution: SparkSession) -> None:
    spark = shipped_execution
    # One feature computation generates more classes than Spark's default cache of 100 holds, and under
    # adaptive execution the same stage gets another id (part of the class name) on every run: with
    # Spark's defaults every rerun (each backfill date, each test) compiled them all again.
    from segspark.features.axes import load_axes
    from segspark.features.engine import compute_features
    from tests.features_history import AS_OF, history

    assert int(str(spark.conf.get("spark.sql.codegen.cache.maxEntries"))) >= 1000

    def run() -> int:
        before = _compilations(spark)
        feats, _ = compute_features(history(spark), load_axes(), as_of=AS_OF, zone="UTC")
        feats.collect()
        return _compilations(spark) - before

    # Adaptive execution may pick another plan variant on the second run (measured: 20-30 new classes);
    # by the third, almost everything is cached. With stage ids in class names the runs compiled 78-115.
    first, second, third = run(), run(), run()
    print(f"compiled classes: first run {first}, then {second} and {third}")
    assert first > 0  # code generation is on (the suite's other tests run without it)
    assert third < 0.25 * max(first, 100)
