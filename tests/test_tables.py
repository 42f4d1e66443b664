"""The one write path: versioned partitions, commit markers, readers trust only commits."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segspark.exc import MissingInputError, SegsparkError
from segspark.tables import Commit, Part, committed, read_partitions, write_partition


def test_rewrite_replaces_only_its_partition(spark: SparkSession, warehouse: str) -> None:
    a = spark.range(3).withColumn("v", F.lit("a"))
    b = spark.range(5).withColumn("v", F.lit("b"))
    write_partition(a, root=warehouse, table="features", key="snapshot_date", value="2024-01-01", run_id="r1")
    write_partition(b, root=warehouse, table="features", key="snapshot_date", value="2024-01-08", run_id="r1")
    a2 = spark.range(10, 12).withColumn("v", F.lit("a2"))
    write_partition(a2, root=warehouse, table="features", key="snapshot_date", value="2024-01-01", run_id="r2")
    got = {
        (r.snapshot_date, r.v): r["count"]
        for r in read_partitions(spark, root=warehouse, table="features", key="snapshot_date")
        .groupBy("snapshot_date", "v")
        .count()
        .collect()
    }
    assert got == {("2024-01-01", "a2"): 2, ("2024-01-08", "b"): 5}
    commits = committed(spark, root=warehouse, table="features", key="snapshot_date")
    assert (commits["2024-01-01"].run_id, commits["2024-01-01"].row_count) == ("r2", 2)
    # The superseded version is gone from disk: the partition directory holds the new files and their marker.
    commit = commits["2024-01-01"]
    on_disk = {p.name for p in (Path(warehouse) / "features" / "snapshot_date=2024-01-01").iterdir()}
    assert {n for n in on_disk if n.endswith(".parquet")} == set(commit.parts[0].files)
    assert "_segspark_commit.json" in on_disk and not list(Path(warehouse, "_staging").glob("*"))


def test_uncommitted_data_is_invisible(spark: SparkSession, warehouse: str) -> None:
    write_partition(
        spark.range(3), root=warehouse, table="features", key="snapshot_date", value="2024-01-01", run_id="r1"
    )
    # A crashed run leaves its staged versions, outside the table.
    spark.range(100).write.parquet(f"{warehouse}/_staging/r9.features.snapshot_date=2024-01-01")
    spark.range(7).write.parquet(f"{warehouse}/_staging/r9.features.snapshot_date=2024-02-01")
    # And files nobody committed put into a partition directory are not part of its version.
    spark.range(50).write.parquet(f"{warehouse}/features/snapshot_date=2024-01-01/stray")
    df = read_partitions(spark, root=warehouse, table="features", key="snapshot_date")
    assert df.count() == 3
    assert pd.read_parquet(f"{warehouse}/features", filters=[("snapshot_date", "=", "2024-01-01")]).shape[0] == 53
    with pytest.raises(MissingInputError):
        read_partitions(spark, root=warehouse, table="features", key="snapshot_date", values=["2024-02-01"])


def test_rows_of_another_partition_are_refused(spark: SparkSession, warehouse: str) -> None:
    df = spark.createDataFrame([("x", "2024-01-01"), ("y", "2024-01-02")], "id string, snapshot_date string")
    with pytest.raises(SegsparkError, match="other than 2024-01-01"):
        write_partition(df, root=warehouse, table="features", key="snapshot_date", value="2024-01-01", run_id="r1")
    assert committed(spark, root=warehouse, table="features", key="snapshot_date") == {}


def test_delta_partition_roundtrip(spark: SparkSession, warehouse: str) -> None:
    from segspark.tables import DELTA_HELP, delta_available, use_format

    if not delta_available(spark):
        pytest.skip(f"Delta Lake is not on this machine's classpath: {DELTA_HELP}")
    use_format(spark, "delta")
    try:
        write_partition(
            spark.range(3), root=warehouse, table="drift", key="snapshot_date", value="2024-01-01", run_id="r1"
        )
        write_partition(
            spark.range(5), root=warehouse, table="drift", key="snapshot_date", value="2024-01-08", run_id="r1"
        )
        write_partition(
            spark.range(2), root=warehouse, table="drift", key="snapshot_date", value="2024-01-01", run_id="r2"
        )
        df = read_partitions(spark, root=warehouse, table="drift", key="snapshot_date")
        assert {r.snapshot_date: r["count"] for r in df.groupBy("snapshot_date").count().collect()} == {
            "2024-01-01": 2,
            "2024-01-08": 5,
        }
    finally:
        use_format(spark, "parquet")


def test_delta_without_jars_stops_at_once(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from segspark.cli import main
    from segspark.tables import delta_available

    if delta_available(spark):
        pytest.skip("Delta Lake is available here; the missing-jars path cannot be exercised")
    root = tmp_path / "wh"
    code = main(["validate", "--set", f"warehouse.root={root}", "--set", "warehouse.format=delta"])
    assert code == 1
    err = capsys.readouterr().err
    assert "Delta Lake is not available" in err and "conf/delta.yaml" in err
    # Nothing was ingested or written before stopping.
    assert not (root / "orders").exists() and not (root / "rejects").exists()
    assert spark.conf.get("segspark.warehouse.format", "parquet") == "parquet"


def test_the_commits_directory_comes_before_the_data(spark: SparkSession, warehouse: str) -> None:
    # A write killed while its data lands must leave a table the next run recognises as segspark's.
    from segspark.paths import check_table_dir

    def fail(_batch):  # type: ignore[no-untyped-def]
        raise RuntimeError("killed mid-write")
        yield

    with pytest.raises(Exception, match="killed mid-write"):
        write_partition(
            spark.range(3).mapInPandas(fail, "id long"),
            root=warehouse,
            table="drift",
            key="snapshot_date",
            value="2024-01-01",
            run_id="r1",
        )
    assert (Path(warehouse) / "drift" / "_commits").is_dir()
    check_table_dir(warehouse, "drift")
    write_partition(spark.range(3), root=warehouse, table="drift", key="snapshot_date", value="2024-01-01", run_id="r2")
    assert read_partitions(spark, root=warehouse, table="drift", key="snapshot_date").count() == 3


def test_partitions_of_the_old_layout_are_opened(spark: SparkSession, warehouse: str) -> None:
    """A warehouse written before the open layout (run directories + _commits/) is turned into plain partition
    directories by linking the committed files: pandas then reads exactly the committed rows."""
    from segspark.tables import OPEN, _write_runs, open_old_partitions

    def old_write(df: DataFrame, value: str, run_id: str, keep: tuple[Part, ...] = ()) -> Commit:
        return _write_runs(
            df, root=warehouse, table="orders", key="source", value=value, run_id=run_id, keep=keep, info=None
        )

    first = old_write(spark.range(3).withColumn("f", F.lit("jan")), "shop", "r1")
    old_write(spark.range(4).withColumn("f", F.lit("feb")), "shop", "r2", keep=first.parts)  # an append
    old_write(spark.range(2).withColumn("f", F.lit("x")), "other", "r1")
    stray = Path(warehouse, "orders", "source=shop", "run_id=killed")  # a killed write's leftover
    spark.range(9).withColumn("f", F.lit("stray")).write.parquet(str(stray))
    before = {v: c.row_count for v, c in committed(None, root=warehouse, table="orders", key="source").items()}
    assert before == {"shop": 7, "other": 2}

    assert open_old_partitions(warehouse) == ["orders/source=other", "orders/source=shop"]
    commits = committed(None, root=warehouse, table="orders", key="source")
    assert {v: (c.row_count, c.layout, len(c.parts)) for v, c in commits.items()} == {
        "shop": (7, OPEN, 2),
        "other": (2, OPEN, 1),
    }
    frame = pd.read_parquet(Path(warehouse, "orders"))
    assert sorted(frame.columns) == ["f", "id", "source"]
    assert frame.groupby(["source", "f"], observed=True).size().to_dict() == {
        ("other", "x"): 2,
        ("shop", "feb"): 4,
        ("shop", "jan"): 3,
    }
    assert not list(Path(warehouse, "orders").rglob("run_id=*")) and not list(Path(warehouse, "_staging").iterdir())
    got = read_partitions(spark, root=warehouse, table="orders", key="source", values=["shop"])
    assert got.count() == 7
    assert open_old_partitions(warehouse) == []  # nothing left to do
