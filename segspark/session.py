"""One place that gets a SparkSession: reuse the active one, else build local.

On Databricks, under spark-submit or Spark Connect a session already exists
and its settings belong to the platform; segspark only insists on UTC.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from segspark.config import shipped_file
from segspark.exc import EnvironmentProblem

log = logging.getLogger(__name__)

MIN_JAVA = 17


def java_major_version() -> int | None:
    """Return the major version of the `java` Spark will use, or None if there is none."""
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not os.path.exists(java):
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for token in (out.stderr + out.stdout).split():
        token = token.strip('"')
        head = token.split(".")[0].split("-")[0]
        if head.isdigit() and ("." in token or token.isdigit()):
            major = int(head)
            return int(token.split(".")[1]) if major == 1 else major
    return None


def check_java() -> None:
    """Fail with install advice unless Java 17 or newer is available."""
    major = java_major_version()
    if major is None:
        raise EnvironmentProblem(
            "Java was not found. segspark needs Java 17 or newer for Spark: "
            "install it (e.g. `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME."
        )
    if major < MIN_JAVA:
        raise EnvironmentProblem(
            f"Java {major} found; Spark 4 needs Java {MIN_JAVA} or newer. "
            "Install a newer JDK or point JAVA_HOME at one."
        )


def _platform_session() -> SparkSession:
    """The session of spark-submit or a pyspark shell: its master and conf come from the launcher."""
    spark = SparkSession.builder.getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    # The master says where the work runs (local, a cluster manager); a Connect-backed launcher may not expose it.
    master = spark.conf.get("spark.master", None) or "master set by the launcher"
    log.info("using the launcher's Spark %s session (%s)", spark.version, master)
    return spark


def _connect_session(remote: str, conf: Mapping[str, Any], jvm_log: str | None = None) -> SparkSession:
    """A Spark Connect session; `local[N]` starts a local Connect server (needs Java, like classic)."""
    builder = SparkSession.builder.remote(remote)
    if remote.startswith("local"):
        # The server is started here, as a local session would be, and gets its settings: with Spark's
        # defaults (200 shuffle partitions, no log configuration) a 3-customer score's features took 47 s
        # instead of 15-20 (docs/benchmarks.md, session 21).
        check_java()
        settings = local_settings(conf)
    else:
        settings = {"spark.sql.session.timeZone": "UTC", **_extra(conf)}
    for key, value in settings.items():
        builder = builder.config(key, value)
    # A local[N] remote starts a Connect server JVM here: its output goes where a local session's would.
    with _stderr_to(jvm_log if remote.startswith("local") else None), warnings.catch_warnings():
        # The settings start the server; the client then sets each again as a session conf, which the
        # static ones (memory, JVM options, the UI) refuse with a warning apiece, though they are in effect.
        warnings.filterwarnings("ignore", message=r"Failed to set spark\.", category=UserWarning)
        spark = builder.getOrCreate()
    log.info(
        "connected to Spark %s over Spark Connect (%s), %s shuffle partitions",
        spark.version,
        remote,
        spark.conf.get("spark.sql.shuffle.partitions"),
    )
    return spark


@contextmanager
def _stderr_to(path: str | None) -> Iterator[None]:
    """While the JVM is launched, point this process's standard error at `path`: the JVM inherits it, so
    its whole output (launcher notices, log4j's console appender, native libraries' messages, Python
    workers' stderr) goes to that file for the session's life. Python's own stderr is restored after."""
    if path is None:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(target, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(target)


# A JVM refuses to start with two garbage collectors selected.
_COLLECTOR = re.compile(r"-XX:\+Use\w+GC")
_ENV_OPTIONS = ("SPARK_SUBMIT_OPTS", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS")


def driver_java_options(java_options: object, logging_conf: object, environ: Mapping[str, str] = os.environ) -> str:
    """The options of the driver JVM segspark starts: `spark.java_options`, then the log4j configuration
    (when segspark runs from files, not from a zip). A collector chosen in the environment (SPARK_SUBMIT_OPTS
    and the JVM's own variables) wins over the configured one."""
    chosen = any(_COLLECTOR.search(environ.get(name, "")) for name in _ENV_OPTIONS)
    parts = [o for o in str(java_options or "").split() if not (chosen and _COLLECTOR.fullmatch(o))]
    if isinstance(logging_conf, Path) and logging_conf.is_file():
        parts.append(f"-Dlog4j2.configurationFile={logging_conf}")
    return " ".join(parts)


def local_settings(conf: Mapping[str, Any]) -> dict[str, str]:
    """The Spark settings of a session segspark starts itself: a classic local one, or the server of a local
    Spark Connect one (`spark.remote: local[N]`). `spark.extra` is applied last, so its keys win."""
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.memory": str(conf.get("driver_memory", "4g")),
        "spark.sql.shuffle.partitions": str(conf.get("shuffle_partitions", 8)),
        # spark.default.parallelism stays Spark's (the core count locally): MLlib's KMeans shuffles every
        # iteration into that many partitions, and a fixed 8 cost small fits a fifth of their time.
        "spark.ui.enabled": str(bool(conf.get("ui_enabled", False))).lower(),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.adaptive.enabled": "true",
        # Step logs carry progress and timings; Spark's bar garbles logs.
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        # Spark keeps 100 compiled code-generation classes by default, and names each after its stage id,
        # which adaptive execution renumbers from run to run. One feature computation needs ~150 classes,
        # so every as-of date compiled everything again (~150 classes; now ~24, docs/benchmarks.md).
        # The cache size is static: it must be set before the session starts.
        "spark.sql.codegen.cache.maxEntries": "2000",
        "spark.sql.codegen.useIdInClassName": "false",
        # PySpark 4 records the Python call site of every Column function for error messages: about ten
        # round trips to the JVM per call, 6,000 of the 9,500 that building one features DataFrame makes.
        # Off, a warm 3-customer `segspark run` with interpreted expressions takes 22.3 s instead of 26.6;
        # with code generation its share is within noise (bench/call_sites.py, docs/benchmarks.md).
        # spark.extra can turn it back on to see which line of Python built a failing expression.
        "spark.python.sql.dataFrameDebugging.enabled": "false",
        "spark.log.level": "WARN",
    }
    options = driver_java_options(conf.get("java_options"), shipped_file("log4j2.properties"))
    if options:
        settings["spark.driver.extraJavaOptions"] = options
    settings.update(_extra(conf))
    return settings


def _extra(conf: Mapping[str, Any]) -> dict[str, str]:
    """`spark.extra`: any Spark conf, as strings."""
    return {str(key): str(value) for key, value in dict(conf.get("extra") or {}).items()}


def get_spark(spark_conf: Mapping[str, Any] | None = None, *, jvm_log: str | None = None) -> SparkSession:
    """Return the active SparkSession, the launcher's, a Connect one, or build a local one from config.

    `jvm_log`: a file for the output of a JVM started here (else it shares this process's stderr).
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        active.conf.set("spark.sql.session.timeZone", "UTC")
        return active
    conf = dict(spark_conf or {})
    # Python workers must use this interpreter (the venv), not the first python3 on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if os.environ.get("PYSPARK_GATEWAY_PORT"):  # started by spark-submit: never override --master
        return _platform_session()
    remote = conf.get("remote") or os.environ.get("SPARK_REMOTE")
    if remote:
        return _connect_session(str(remote), conf, jvm_log)
    check_java()
    builder = SparkSession.builder.master(str(conf.get("master", "local[*]"))).appName(
        str(conf.get("app_name", "segspark"))
    )
    for key, value in local_settings(conf).items():
        builder = builder.config(key, value)
    with _stderr_to(jvm_log):
        spark = builder.getOrCreate()
    log.info(
        "started local Spark %s (%s)%s",
        spark.version,
        conf.get("master", "local[*]"),
        f"; its output goes to {jvm_log}" if jvm_log else "",
    )
    return spark
