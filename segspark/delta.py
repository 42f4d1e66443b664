"""The table format of a session: Parquet (default) or Delta, probed before anything is written."""

from __future__ import annotations

from pyspark.sql import SparkSession

from segspark.exc import SegsparkError

FORMAT_CONF = "segspark.warehouse.format"
DELTA_HELP = (
    "warehouse.format is delta but Delta Lake is not available in this Spark session. "
    "On Databricks Delta is built in. Elsewhere start Spark with the Delta jars: "
    "`--config conf/delta.yaml` (an overlay setting spark.jars.packages, spark.sql.extensions and "
    "spark.sql.catalog.spark_catalog; edit the delta-spark version to match your Spark), "
    "or `spark-submit --packages io.delta:delta-spark_2.13:<version> ...`. "
    "Or keep the default: --set warehouse.format=parquet."
)


def use_format(spark: SparkSession, fmt: str) -> None:
    """Make `fmt` (parquet or delta) the table format of this session; fail at once if Delta is missing."""
    if fmt == "delta" and not delta_available(spark):
        raise SegsparkError(DELTA_HELP)
    spark.conf.set(FORMAT_CONF, fmt)


def delta_available(spark: SparkSession) -> bool:
    """Whether the `delta` data source resolves in this session (no data is read)."""
    try:
        spark.read.format("delta").load("/nonexistent/segspark-delta-probe").schema  # noqa: B018
    except Exception as err:  # the error type differs between classic Spark and Spark Connect
        text = str(err)
        return "DATA_SOURCE_NOT_FOUND" not in text and "Failed to find the data source" not in text
    return True
