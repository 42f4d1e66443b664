"""Every table of a `segspark run`, read with no segspark code (pandas, pyarrow, DuckDB, plain Spark), gives
exactly the committed rows once, with the same columns as segspark's own reader (issue 23).

The expected row counts come from the commit markers, written when the data was; the rows themselves are
compared with segspark's reader, which reads exactly the files a commit lists.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pytest
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segspark.paths import PARTITION_KEYS
from segspark.tables import committed, read_partitions

# Every partitioned table a `segspark run` writes (the shop export has no tickets; lookalikes are asked for).
TABLES = {t: k for t, k in PARTITION_KEYS.items() if t not in ("tickets", "lookalikes")}


def _flat(df: DataFrame) -> DataFrame:
    """Nested columns as JSON text, so rows can be compared as sets (Spark cannot sort or subtract maps)."""

    def flat(field: T.StructField) -> Column:
        nested = isinstance(field.dataType, T.MapType | T.ArrayType | T.StructType)
        return (F.to_json(F.col(field.name)) if nested else F.col(field.name)).alias(field.name)

    return df.select(*[flat(f) for f in df.schema.fields])


@pytest.mark.parametrize("table", TABLES)
def test_plain_readers_see_exactly_the_committed_rows(spark: SparkSession, shop_run: Path, table: str) -> None:
    key, path = TABLES[table], shop_run / table
    commits = committed(spark, root=str(shop_run), table=table, key=key)
    assert commits, f"{table} has no committed partition"
    # A partition committed with no rows (an export without rejects) has none to show.
    expected = {value: c.row_count for value, c in commits.items() if c.row_count}
    ours = read_partitions(spark, root=str(shop_run), table=table, key=key)
    columns = sorted(ours.columns)

    frame = pd.read_parquet(path)
    assert sorted(frame.columns) == columns
    assert frame[key].astype(str).value_counts().to_dict() == expected

    arrow = ds.dataset(path, format="parquet", partitioning="hive").to_table()
    assert sorted(arrow.column_names) == columns
    assert pd.Series(arrow[key].to_pylist()).astype(str).value_counts().to_dict() == expected

    con = duckdb.connect()
    scan = f"read_parquet('{path}/**/*.parquet', hive_partitioning = 1)"
    assert sorted(c[0] for c in con.sql(f"DESCRIBE SELECT * FROM {scan}").fetchall()) == columns
    counts = con.sql(f"SELECT CAST({key} AS VARCHAR), count(*) FROM {scan} GROUP BY 1").fetchall()
    assert dict(counts) == expected

    plain = spark.read.parquet(str(path)).withColumn(key, F.col(key).cast("string")).select(*ours.columns)
    assert plain.count() == sum(expected.values())
    a, b = _flat(plain), _flat(ours)
    assert a.exceptAll(b).isEmpty() and b.exceptAll(a).isEmpty()


def test_no_bookkeeping_column_clashes_with_a_directory(shop_run: Path) -> None:
    # rejects keeps a run_id column: no directory may be named run_id=... any more (pandas refused to merge them).
    assert not [p for p in shop_run.rglob("run_id=*") if "_staging" not in p.parts]
    assert "run_id" in pd.read_parquet(shop_run / "rejects").columns


def test_spark_sql_catalog_table_over_a_warehouse_table(spark: SparkSession, shop_run: Path) -> None:
    # As docs/guide.md shows: a catalog table over the directory, its partitions recovered.
    days = sorted(committed(spark, root=str(shop_run), table="customer_profiles", key="snapshot_date"))
    spark.sql("DROP TABLE IF EXISTS open_profiles")
    spark.sql(f"CREATE TABLE open_profiles USING parquet LOCATION '{shop_run / 'customer_profiles'}'")
    try:
        spark.sql("MSCK REPAIR TABLE open_profiles")
        shown = [r[0] for r in spark.sql("SHOW PARTITIONS open_profiles").collect()]
        assert shown == [f"snapshot_date={d}" for d in days]
        got = spark.sql(f"SELECT count(*) FROM open_profiles WHERE snapshot_date = DATE'{days[-1]}'").first()[0]
        ours = read_partitions(
            spark, root=str(shop_run), table="customer_profiles", key="snapshot_date", values=[days[-1]]
        )
        assert got == ours.count() > 0
    finally:
        spark.sql("DROP TABLE IF EXISTS open_profiles")
