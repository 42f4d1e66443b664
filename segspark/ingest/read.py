"""Read a source as the mapping describes it, every column kept, nothing inferred."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segspark.exc import MappingError
from segspark.mapping import FileSource, Lookup
from segspark.paths import is_local, local_path

CORRUPT = "_corrupt_record"


def _csv(spark: SparkSession, path: str, options: dict[str, str]) -> DataFrame:
    # Header names first, then every column read as a string with an explicit
    # schema: numbers and timestamps are parsed (and quarantined) by segspark,
    # never guessed by the reader. Rows with a wrong field count land in
    # _corrupt_record (PERMISSIVE mode) instead of being dropped.
    opts = {"header": "true", **options}
    header = spark.read.options(**opts).csv(path).columns
    if not header:
        raise MappingError(f"{path}: the CSV has no header row")
    schema = T.StructType(
        [T.StructField(c, T.StringType(), True) for c in header] + [T.StructField(CORRUPT, T.StringType(), True)]
    )
    return (
        spark.read.options(**opts)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .option("enforceSchema", "false")
        .schema(schema)
        .csv(path)
    )


NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"


def read_table_file(spark: SparkSession, path: str, fmt: str, options: dict[str, str]) -> DataFrame:
    """Read a file or directory in a supported format, with a clear error when it is absent."""
    if fmt == "parquet" and _has_nanos(path):
        spark.conf.set(NANOS_AS_LONG, "true")
    try:
        if fmt == "csv":
            return _csv(spark, path, options)
        if fmt == "delta":
            return spark.read.format("delta").options(**options).load(path)
        return spark.read.format(fmt).options(**options).load(path)
    except Exception as err:  # AnalysisException, Py4J and Connect errors all land here
        text = str(err)
        if "PATH_NOT_FOUND" in text or "does not exist" in text:
            raise MappingError(f"source {path} does not exist") from None
        if fmt == "parquet" and "TIMESTAMP(NANOS" in text and spark.conf.get(NANOS_AS_LONG, "false") != "true":
            # pandas writes nanosecond timestamps, which Spark cannot read as
            # timestamps; read them as epoch nanoseconds and parse them ourselves.
            spark.conf.set(NANOS_AS_LONG, "true")
            return read_table_file(spark, path, fmt, options)
        raise


def _has_nanos(path: str) -> bool:
    """Peek at a local Parquet footer for nanosecond timestamps (avoids a failed Spark job)."""
    if not is_local(path):
        return False
    target = local_path(path)
    files = [target] if target.is_file() else sorted(target.rglob("*.parquet"))[:1]
    if not files:
        return False
    try:
        schema = pq.read_schema(files[0])
    except (OSError, pa.ArrowInvalid):
        return False
    return any(pa.types.is_timestamp(f.type) and f.type.unit == "ns" for f in schema)


def nanos_as_long(spark: SparkSession) -> bool:
    """True when nanosecond Parquet timestamps are being read as epoch nanoseconds."""
    return spark.conf.get(NANOS_AS_LONG, "false") == "true"


def read_source(spark: SparkSession, mapping: FileSource, path: str | None = None) -> DataFrame:
    """Read the mapping's source (or `path`), checking that every mapped column exists."""
    df = read_table_file(spark, path or mapping.path, mapping.format, dict(mapping.options))
    cols = set(df.columns)
    missing = [c for c in mapping.source_columns() if c not in cols]
    if missing:
        raise MappingError(
            f"mapping {mapping.name}: source column(s) {missing} not found in {path or mapping.path}; "
            f"the source has {sorted(cols - {CORRUPT})}"
        )
    return df


def read_lookup(spark: SparkSession, lookup: Lookup) -> DataFrame:
    """A lookup table reduced to one row per key, so joining it can never multiply lines."""
    df = read_table_file(spark, lookup.path, lookup.format, {})
    missing = [c for c in [lookup.lookup_key, *lookup.columns.values()] if c not in df.columns]
    if missing:
        raise MappingError(f"lookup {lookup.path}: column(s) {missing} not found")
    # min() picks one value per key deterministically when a key repeats.
    return df.groupBy(F.col(lookup.lookup_key).cast("string").alias("_lk_key")).agg(
        *[F.min(F.col(src).cast("string")).alias(canon) for canon, src in lookup.columns.items()]
    )
