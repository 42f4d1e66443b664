"""The local session segspark starts: its logging configuration."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession


def test_local_session_logs_with_the_shipped_log4j_config(spark: SparkSession) -> None:
    options = str(spark.conf.get("spark.driver.extraJavaOptions"))
    flag = "-Dlog4j2.configurationFile="
    assert flag in options
    path = Path(options.split(flag, 1)[1].split()[0])
    assert path.name == "log4j2.properties" and path.parent.name == "conf"
    text = path.read_text()
    # Spark's warning for the price ladder's unpartitioned window is silenced, everything else stays at WARN.
    assert "logger.window.name = org.apache.spark.sql.execution.window.WindowExec" in text
    assert "logger.window.level = error" in text
    assert "rootLogger.level = warn" in text
