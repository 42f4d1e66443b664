"""Canonical rows do not depend on the process time zone."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from segspark.ingest.validate import validate
from segspark.mapping import load_mapping
from segspark.paths import check_warehouse
from segspark.tables import read_partitions
from tests.conftest import FIXTURES, REPO
from tests.test_ingest_presets import _orii_slice

SCRIPT = textwrap.dedent(
    """
    import sys
    from datetime import datetime
    from segspark.session import get_spark
    from segspark.ingest.validate import validate
    from segspark.mapping import load_mapping
    from segspark.paths import check_warehouse
    root, orii, shop_mapping, shop_csv = sys.argv[1:5]
    spark = get_spark({"master": "local[1]", "shuffle_partitions": 2})
    wh = check_warehouse(root)
    now = datetime(2030, 1, 1)
    validate(spark, load_mapping("online_retail_ii"), root=wh, run_id="tz", max_malformed_fraction=0.01,
             path=orii, max_order_ts=now)
    validate(spark, load_mapping(shop_mapping), root=wh, run_id="tz", max_malformed_fraction=0.01,
             path=shop_csv, max_order_ts=now)
    """
)


@pytest.mark.slow
def test_new_york_process_gives_identical_rows(spark: SparkSession, tmp_path: Path) -> None:
    orii = _orii_slice(tmp_path)
    shop_mapping, shop_csv = str(FIXTURES / "shop_export.yaml"), str(FIXTURES / "shop_export.csv")
    ny_root = str(tmp_path / "ny")
    env = {**os.environ, "TZ": "America/New_York", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, ny_root, orii, shop_mapping, shop_csv],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    utc_root = check_warehouse(str(tmp_path / "utc"))
    now = datetime(2030, 1, 1)
    validate(
        spark,
        load_mapping("online_retail_ii"),
        root=utc_root,
        run_id="tz",
        max_malformed_fraction=0.01,
        path=orii,
        max_order_ts=now,
    )
    validate(
        spark,
        load_mapping(shop_mapping),
        root=utc_root,
        run_id="tz",
        max_malformed_fraction=0.01,
        path=shop_csv,
        max_order_ts=now,
    )
    utc = read_partitions(spark, root=utc_root, table="orders", key="source")
    ny = read_partitions(spark, root=check_warehouse(ny_root), table="orders", key="source")
    assert utc.count() == 36 + 8
    assert utc.exceptAll(ny).count() == 0
    assert ny.exceptAll(utc).count() == 0


def test_a_pinned_as_of_pins_the_future_cutoff(spark: SparkSession, tmp_path: Path) -> None:
    """With as_of pinned and no ingest.max_order_ts, a line stamped in the year 2999 is not rejected as future:
    were the cut-off the moment the run happens, the tables would depend on that day."""
    from segspark.config import load_config
    from segspark.context import make_context
    from segspark.steps import NO_CUTOFF, future_cutoff

    mapping = str(FIXTURES / "shop_export.yaml")
    config = load_config(sets=[f"warehouse.root={tmp_path / 'wh'}"])
    ctx = make_context(config, source=mapping)
    assert future_cutoff(ctx, None) is None  # unpinned: the moment ingestion runs
    assert future_cutoff(ctx, datetime(2023, 6, 1).date()) == NO_CUTOFF
    explicit = load_config(sets=[f"warehouse.root={tmp_path / 'wh'}", "ingest.max_order_ts=2024-01-01"])
    assert future_cutoff(make_context(explicit, source=mapping), datetime(2023, 6, 1).date()) == datetime(2024, 1, 1)

    lines = (FIXTURES / "shop_export.csv").read_text().splitlines()
    source = tmp_path / "shop.csv"
    source.write_text("\n".join([*lines, "K-001;T999;15.01.2999 09:05:00;A-1;garden;1;12,50;0,00;online;"]) + "\n")
    wh = check_warehouse(str(tmp_path / "wh"))
    counts = {}
    for cutoff in (NO_CUTOFF, None):
        report = validate(
            spark,
            load_mapping(mapping),
            root=wh,
            run_id="c",
            max_malformed_fraction=1.0,
            path=str(source),
            max_order_ts=cutoff,
        )
        counts[cutoff] = (report.valid, report.malformed)
    assert counts[NO_CUTOFF] == (len(lines), 0)  # every data line and the year-2999 one
    assert counts[None] == (len(lines) - 1, 1)  # today's cut-off rejects it
