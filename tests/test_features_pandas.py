"""An independent pandas recomputation of features on a slice of Online Retail II."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession

from segspark.features.axes import load_axes
from segspark.features.engine import compute_features
from segspark.ingest.validate import validate
from segspark.mapping import load_mapping
from segspark.tables import read_partitions
from tests.conftest import DATA

AS_OF = date(2011, 6, 1)
CUSTOMERS = [12347.0, 12748.0, 13089.0, 14911.0, 15311.0, 17841.0, 12346.0, 16321.0]


@pytest.fixture(scope="module")
def slice_and_features(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    raw = pd.read_parquet(DATA / "online_retail_ii" / "online_retail_ii.parquet")
    part = raw[raw["Customer ID"].isin(CUSTOMERS)]
    tmp: Path = tmp_path_factory.mktemp("orii")
    part.to_parquet(tmp / "slice.parquet", index=False)
    from segspark.paths import check_warehouse

    root = check_warehouse(str(tmp / "wh"))
    validate(
        spark,
        load_mapping("online_retail_ii"),
        root=root,
        run_id="r",
        max_malformed_fraction=0.01,
        path=str(tmp / "slice.parquet"),
    )
    orders = read_partitions(spark, root=root, table="orders", key="source").drop("source")
    feats, _ = compute_features(orders, load_axes(), as_of=AS_OF, zone="Europe/London")
    got = feats.toPandas().set_index("customer_id")  # a few customers: small by construction
    return part, got


def _pandas_features(raw: pd.DataFrame) -> pd.DataFrame:
    """SPEC Appendix A, written again in plain pandas from the raw source columns."""
    df = raw.copy()
    excluded = {
        "POST",
        "DOT",
        "M",
        "m",
        "C2",
        "C3",
        "S",
        "B",
        "BANK CHARGES",
        "AMAZONFEE",
        "CRUK",
        "ADJUST",
        "ADJUST2",
        "TEST001",
        "TEST002",
        "GIFT",
        "D",
    }
    df = df[~df["StockCode"].isin(excluded) & ~df["StockCode"].str.startswith("gift_")]
    df["ts"] = (
        df["InvoiceDate"].dt.tz_localize("Europe/London", ambiguous="NaT").dt.tz_convert("UTC").dt.tz_localize(None)
    )
    df = df[df["ts"] < pd.Timestamp(AS_OF)]
    df["cust"] = df["Customer ID"].astype(int).astype(str)
    df["amount"] = df["Quantity"] * df["Price"]
    ret = df["Invoice"].str.startswith("C") | (df["Quantity"] < 0)
    buy = df[~ret & (df["Quantity"] > 0)]
    orders = buy.groupby(["cust", "Invoice"]).agg(t=("ts", "min"), value=("amount", "sum")).reset_index()
    orders = orders.sort_values(["cust", "t", "Invoice"])
    orders["gap"] = orders.groupby("cust")["t"].diff().dt.total_seconds() / 86400
    as_of = pd.Timestamp(AS_OF)
    out = pd.DataFrame(index=sorted(orders["cust"].unique()))
    g = orders.groupby("cust")
    tenure_m = (as_of - g["t"].min()).dt.total_seconds() / 86400 / 30.4375
    out["purchase_frequency__orders_per_month"] = g.size() / tenure_m.clip(lower=1.0)
    out["purchase_frequency__avg_days_between_orders"] = g["gap"].mean()
    out["purchase_value__avg_order_value"] = g["value"].sum() / g.size()
    returned = df[ret].groupby("cust")["amount"].sum().abs()
    out["purchase_value__lifetime_value"] = buy.groupby("cust")["amount"].sum() - returned.reindex(out.index).fillna(0)
    out["customer_maturity__days_since_last_order"] = (as_of - g["t"].max()).dt.total_seconds() / 86400
    units_back = df[ret].groupby("cust")["Quantity"].sum().abs().reindex(out.index).fillna(0)
    out["return_behavior__return_rate"] = units_back / buy.groupby("cust")["Quantity"].sum()
    out["product_knowledge__expertise_level"] = buy.groupby("cust")["StockCode"].nunique()
    spend = buy.groupby(["cust", "StockCode"])["amount"].sum()
    shares = spend / spend.groupby(level=0).transform("sum")
    out["product_knowledge__product_concentration"] = (shares**2).groupby(level=0).sum()
    local = orders["t"].dt.tz_localize("UTC").dt.tz_convert("Europe/London")
    out["purchase_cadence__weekend_ratio"] = (local.dt.dayofweek >= 5).groupby(orders["cust"]).mean()
    return out


def test_pandas_agrees(slice_and_features) -> None:  # type: ignore[no-untyped-def]
    raw, got = slice_and_features
    expected = _pandas_features(raw)
    assert len(expected) >= 6
    assert sorted(got.index) == sorted(expected.index)
    for col in expected.columns:
        np.testing.assert_allclose(
            got.loc[expected.index, col].astype(float), expected[col].astype(float), rtol=1e-9, atol=1e-9, err_msg=col
        )


def test_reference_pipeline_computes_every_feature_segspark_does(slice_and_features) -> None:  # type: ignore[no-untyped-def]
    # bench/reference.py, the yardstick of docs/benchmarks.md, is a second whole implementation of Appendix A in
    # pandas: on the same source rows, through the same mapping, every column must agree.
    import yaml

    from tests.test_reference import load_reference

    part, got = slice_and_features
    ref = load_reference()
    lines, quarantined = ref.ingest(ref.load_mapping("online_retail_ii"), ref.ROOT, 10**18, raw=part)
    axes = yaml.safe_load(ref.AXES_FILE.read_text())["axes"]
    table, _ = ref.features(lines, None, AS_OF, "Europe/London", axes)
    assert quarantined > 0  # the slice's postage and cancellation-only lines
    assert sorted(table.columns) == sorted(got.columns)
    assert sorted(table.index) == sorted(got.index)
    a = table.loc[got.index, got.columns].to_numpy()
    b = got.to_numpy(dtype=float)
    agree = np.isclose(a, b, rtol=1e-9, atol=1e-9) | (np.isnan(a) & np.isnan(b))
    assert agree.all(), [c for c, ok in zip(got.columns, agree.all(axis=0), strict=True) if not ok]
