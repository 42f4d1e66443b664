"""The yardstick: segspark's pipeline in vectorised pandas + scikit-learn on one process (issue 24).

    python bench/reference.py [--source online_retail_ii] [--as-of 2011-12-10] [--check WAREHOUSE]

Steps, each timed: ingest (the mapping file's semantics: columns, time zone,
returns, excluded products, the quarantine checks), features for the axes the
data supports (SPEC Appendix A), per axis impute + transform + StandardScaler +
KMeans for k = 2..6 with the closed-form squared-Euclidean silhouette that
Spark's ClusteringEvaluator computes and the same minimum segment size, scoring
(memberships = softmax of minus the distances), the backfill of the six
baselines and drift against them. It is what a competent data scientist would
write without Spark; it is not a product path and imports nothing from segspark.

`--check WAREHOUSE` compares with what `segspark run` committed there for the
same source and as-of date: every feature within 1e-9 (relative for large
values), the chosen k per axis wherever the two best silhouettes are more than
0.01 apart, and memberships within 1e-6 on axes whose centres agree.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.cluster import KMeans

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "segspark" / "conf"
AXES_FILE = Path(__file__).with_name("reference_axes.yaml")  # its own axes: inputs and transforms
DAY_US = 86_400 * 10**6
MONTH_DAYS = 30.4375
OFFSETS = (7, 14, 28, 60, 90, 180)


# ---------------------------------------------------------------------------------------------- ingest
def load_mapping(name_or_path: str) -> dict:
    path = Path(name_or_path)
    if not path.suffix:
        path = CONF / "sources" / f"{name_or_path}.yaml"
    return yaml.safe_load(path.read_text())


def _read(source: dict, root: Path) -> pd.DataFrame:
    path = root / source["path"]
    fmt = source.get("format", "parquet")
    if fmt == "parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], **(source.get("options") or {}))


def _as_id(s: pd.Series) -> pd.Series:
    """Ids as text; a whole float 12345.0 reads as "12345" (as segspark's ingest does)."""
    if pd.api.types.is_float_dtype(s):
        whole = s.notna() & (s == np.floor(s))
        out = s.astype(object).where(~whole, s.where(whole).astype("Int64").astype(str))
        return out.where(s.notna(), None).astype(object).map(lambda v: None if v is None else str(v))
    out = s.astype(object).where(s.notna(), None)
    text = out.map(lambda v: None if v is None else str(v).strip() or None)
    return text


def _instant(s: pd.Series, fmt: str | None, zone: str) -> pd.Series:
    """A source timestamp column as UTC, in microseconds since the epoch (int64)."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        ts = s.dt.tz_convert("UTC").dt.tz_localize(None)
    else:
        ts = pd.to_datetime(s, format=None if not fmt else "mixed", errors="coerce")
        if zone != "UTC":
            # Java's rule: an ambiguous wall time takes the earlier offset; a skipped one moves forward.
            ts = ts.dt.tz_localize(zone, ambiguous=True, nonexistent=pd.Timedelta(hours=1))
            ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts.astype("datetime64[us]").astype("int64").where(ts.notna())


def ingest(mapping: dict, root: Path, max_ts_us: int, raw: pd.DataFrame | None = None) -> tuple[pd.DataFrame, int]:
    """Canonical valid lines (order_ts in UTC microseconds) and the number of rows quarantined; `raw` stands
    for the mapping's source when given."""
    raw = _read(mapping["source"], root) if raw is None else raw.reset_index(drop=True)
    cols = mapping["columns"]
    zone = (mapping.get("timestamp") or {}).get("zone") or "UTC"
    fmt = (mapping.get("timestamp") or {}).get("format")
    df = pd.DataFrame(index=raw.index)
    df["customer_id"] = _as_id(raw[cols["customer_id"]])
    df["order_id"] = _as_id(raw[cols["order_id"]])
    df["order_ts"] = _instant(raw[cols["order_ts"]], fmt, zone)
    qty = pd.to_numeric(raw[cols["quantity"]], errors="coerce").astype(float)
    returns = mapping.get("returns") or {}
    is_return = pd.Series(False, index=raw.index)
    if returns.get("negative_quantity"):
        is_return |= qty < 0
    if returns.get("order_id_prefix"):
        is_return |= df["order_id"].fillna("").str.startswith(returns["order_id_prefix"])
    df["quantity"] = np.where(is_return, -qty.abs(), qty)
    if "line_amount" in cols:
        amount = pd.to_numeric(raw[cols["line_amount"]], errors="coerce").astype(float)
        df["line_amount"] = np.where(is_return, -amount.abs(), amount)
    if "unit_price" in cols:
        df["unit_price"] = pd.to_numeric(raw[cols["unit_price"]], errors="coerce").astype(float)
    else:
        df["unit_price"] = np.where(qty == 0, 0.0, df["line_amount"].abs() / qty.abs())
    if "line_amount" not in cols:
        df["line_amount"] = df["quantity"] * df["unit_price"]
    if "discount_amount" in cols:
        df["discount_amount"] = pd.to_numeric(raw[cols["discount_amount"]], errors="coerce").astype(float).fillna(0.0)
    else:
        df["discount_amount"] = np.nan
    for c in ("product_id", "category", "channel"):
        df[c] = _as_id(raw[cols[c]]) if c in cols else None
    df["is_return"] = is_return
    bad = (
        df["order_id"].isna()
        | df["order_ts"].isna()
        | df["quantity"].isna()
        | df["unit_price"].isna()
        | df["line_amount"].isna()
        | (df["discount_amount"] < 0)
        | (df["unit_price"] < 0)
        | (df["order_ts"] > max_ts_us)
        | df["customer_id"].isna()
        | (df["quantity"] == 0)
    )
    product = df["product_id"].fillna("\0")
    for values in (mapping.get("exclude_products") or {}).values():
        bad |= product.isin([str(v) for v in values])
    for patterns in (mapping.get("exclude_product_patterns") or {}).values():
        for pattern in patterns:
            bad |= df["product_id"].notna() & product.str.contains(re.compile(pattern), regex=True)
    if mapping.get("duplicates", "keep") == "drop":
        bad |= df.duplicated(keep="first")
    return df[~bad].reset_index(drop=True), int(bad.sum())


def ingest_tickets(mapping: dict, root: Path) -> pd.DataFrame | None:
    spec = mapping.get("tickets")
    if not spec:
        return None
    raw = _read(spec["source"], root)
    cols = spec["columns"]
    zone = (mapping.get("timestamp") or {}).get("zone") or "UTC"
    out = pd.DataFrame({"customer_id": _as_id(raw[cols["customer_id"]])})
    out["created_ts"] = _instant(raw[cols["created_ts"]], None, zone)
    out["channel"] = _as_id(raw[cols["channel"]]) if "channel" in cols else None
    rated = "satisfaction" in cols
    out["satisfaction"] = pd.to_numeric(raw[cols["satisfaction"]], errors="coerce") if rated else np.nan
    out["escalated"] = raw[cols["escalated"]].astype("boolean") if "escalated" in cols else pd.NA
    return out[out["customer_id"].notna() & out["created_ts"].notna()].reset_index(drop=True)


# -------------------------------------------------------------------------------------------- features
def _us(day: date) -> int:
    return (day - date(1970, 1, 1)).days * DAY_US


def _local(us: pd.Series, zone: str) -> pd.Series:
    ts = pd.to_datetime(us, unit="us")
    return ts if zone == "UTC" else ts.dt.tz_localize("UTC").dt.tz_convert(zone).dt.tz_localize(None)


def _hour_angle(local: pd.Series) -> pd.Series:
    return (local.dt.hour + local.dt.minute / 60.0 + local.dt.second / 3600.0) * (2 * math.pi / 24)


def _months(local: pd.Series) -> pd.Series:
    return local.dt.year * 12 + local.dt.month


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den).where(den != 0)


@dataclass
class Inputs:
    present: dict[str, bool] = field(default_factory=dict)


def detect(lines: pd.DataFrame, tickets: pd.DataFrame | None, zone: str, date_only: bool | None) -> dict[str, bool]:
    local = _local(lines["order_ts"], zone)
    found = {
        "orders": len(lines) > 0,
        "category": lines["category"].notna().any(),
        "discount": lines["discount_amount"].notna().any(),
        "returns": lines["is_return"].any(),
        "product": lines["product_id"].notna().any(),
        "channel": lines["channel"].notna().any(),
        "time_of_day": bool((local != local.dt.floor("D")).any()),
        "tickets": False,
        "satisfaction": False,
        "escalation": False,
    }
    if date_only is not None:
        found["time_of_day"] = not date_only
    if tickets is not None and len(tickets):
        found.update(
            tickets=True,
            satisfaction=bool(tickets["satisfaction"].notna().any()),
            escalation=bool(tickets["escalated"].notna().any()),
        )
        found["channel"] = found["channel"] or bool(tickets["channel"].notna().any())
    return {k: bool(v) for k, v in found.items()}


# Inputs a single feature needs beyond its axis's (segspark/features/axes.py, KNOWN).
FEATURE_NEEDS = {
    "purchase_cadence__time_of_day_consistency": ["time_of_day"],
    "communication_preference__contact_hour_sin": ["time_of_day"],
    "communication_preference__contact_hour_cos": ["time_of_day"],
    "problem_complexity__discount_dependency": ["discount"],
    "support_history__satisfaction_avg": ["satisfaction"],
    "support_history__escalation_rate": ["escalation"],
}


def plan(axes: dict, inputs: dict[str, bool]) -> dict[str, dict]:
    out = {}
    for name, spec in axes.items():
        if not spec.get("enabled", True) or not all(inputs.get(n, False) for n in spec["needs"]):
            continue
        kept = {
            f: t
            for f, t in spec["features"].items()
            if all(inputs.get(n, False) for n in FEATURE_NEEDS.get(f"{name}__{f}", []))
        }
        if kept:
            out[name] = {**spec, "features": kept}
    return out


def features(
    lines: pd.DataFrame, tickets: pd.DataFrame | None, as_of: date, zone: str, axes: dict, date_only: bool | None = None
) -> tuple[pd.DataFrame, dict]:
    """One row per customer with an order before as_of, one column per planned feature."""
    cut = _us(as_of)
    lines = lines[lines["order_ts"] < cut]
    tix = tickets[tickets["created_ts"] < cut] if tickets is not None else None
    planned = plan(axes, detect(lines, tix, zone, date_only))
    wanted = [f"{a}__{f}" for a, s in planned.items() for f in s["features"]]
    buy = lines[(lines["quantity"] > 0) & ~lines["is_return"]]
    # The smallest channel of an order, through sorted category codes (a min over strings is pure Python).
    channels = pd.Categorical(buy["channel"], categories=sorted(buy["channel"].dropna().unique()), ordered=True)
    codes = np.where(channels.codes < 0, np.iinfo(np.int64).max, channels.codes)
    o = (
        buy.assign(has_discount=buy["discount_amount"].fillna(0.0) > 0, channel_code=codes)
        .groupby(["customer_id", "order_id"], sort=False)
        .agg(
            order_time=("order_ts", "min"),
            order_value=("line_amount", "sum"),
            has_discount=("has_discount", "max"),
            channel_code=("channel_code", "min"),
        )
        .reset_index()
        .sort_values(["customer_id", "order_time", "order_id"], kind="stable")
        .reset_index(drop=True)
    )
    g = o.groupby("customer_id", sort=False)
    o["idx"] = g.cumcount()
    o["gap_days"] = g["order_time"].diff() / DAY_US
    o["n"] = g["order_time"].transform("size")
    o["first_time"] = g["order_time"].transform("min")
    o["local_time"] = _local(o["order_time"], zone)
    names = np.append(np.asarray(channels.categories, dtype=object), None)  # the last stands for "no channel"
    o["order_channel"] = names[np.minimum(o["channel_code"], len(names) - 1)]
    out = pd.DataFrame(index=pd.Index(o["customer_id"].unique(), name="customer_id"))

    # Order sequence.
    angle = _hour_angle(o["local_time"])
    o["_t"] = (o["order_time"] - o["first_time"]) / DAY_US / MONTH_DAYS
    o["_cos"], o["_sin"] = np.cos(angle), np.sin(angle)
    o["_wk"] = o["local_time"].dt.dayofweek.isin([5, 6]).astype(float)
    o["_month"] = _months(o["local_time"])
    o["_last3"] = o["gap_days"].where((o["idx"] >= o["n"] - 3) & (o["idx"] >= 1))
    o["_r90"] = o["order_time"] >= cut - 90 * DAY_US
    o["_p90"] = (o["order_time"] >= cut - 180 * DAY_US) & ~o["_r90"]
    g = o.groupby("customer_id", sort=False)
    a = pd.DataFrame(
        {
            "n": g.size(),
            "first": g["order_time"].min(),
            "last": g["order_time"].max(),
            "mean_gap": g["gap_days"].mean(),
            "std_gap": g["gap_days"].std(ddof=0),
            "last3": g["_last3"].mean(),
            "r90": g["_r90"].sum(),
            "p90": g["_p90"].sum(),
            "value": g["order_value"].sum(),
            "disc": g["has_discount"].mean(),
            "wk": g["_wk"].mean(),
            "cos": g["_cos"].mean(),
            "sin": g["_sin"].mean(),
            "months": g["_month"].nunique(),
            "first_month": g["_month"].min(),
        }
    )
    t_mean = g["_t"].transform("mean")
    v_mean = g["order_value"].transform("mean")
    cov = ((o["_t"] - t_mean) * (o["order_value"] - v_mean)).groupby(o["customer_id"], sort=False).mean()
    var = ((o["_t"] - t_mean) ** 2).groupby(o["customer_id"], sort=False).mean()
    a = a.reindex(out.index)
    n = a["n"]
    tenure_m = (cut - a["first"]) / DAY_US / MONTH_DAYS
    since = (cut - a["last"]) / DAY_US
    before = as_of - timedelta(days=1)
    last_month = before.year * 12 + before.month
    cons = (1.0 / (1.0 + a["std_gap"] / a["mean_gap"])).where(a["mean_gap"] != 0, 1.0).where(n >= 3)
    f = {
        "purchase_frequency__orders_per_month": n / np.maximum(tenure_m, 1.0),
        "purchase_frequency__avg_days_between_orders": a["mean_gap"],
        "purchase_frequency__recent_orders_90d": a["r90"].astype(float),
        "purchase_frequency__purchase_consistency": cons,
        "purchase_value__avg_order_value": a["value"] / n,
        "purchase_value__value_trend": _ratio(cov.reindex(out.index), var.reindex(out.index)).where(n >= 2),
        "price_sensitivity__discount_usage_rate": a["disc"],
        "purchase_cadence__weekend_ratio": a["wk"],
        "purchase_cadence__time_of_day_consistency": np.sqrt(a["cos"] ** 2 + a["sin"] ** 2),
        "customer_maturity__tenure_months": tenure_m,
        "customer_maturity__days_since_last_order": since,
        "repurchase_behavior__loyalty_index": a["months"] / (last_month - a["first_month"] + 1),
        "loyalty_trajectory__order_frequency_trend": np.log((1.0 + a["r90"]) / (1.0 + a["p90"])),
        "loyalty_trajectory__recency_ratio": _ratio(since, a["mean_gap"]).where(n >= 2),
        "loyalty_trajectory__acceleration": _ratio(a["last3"], a["mean_gap"]).where(n >= 4),
    }
    per_month = o.groupby(["customer_id", o["local_time"].dt.month]).size().astype(float)
    gm = per_month.groupby(level=0)
    f["purchase_cadence__seasonal_concentration"] = ((per_month**2).groupby(level=0).sum() / gm.sum() ** 2).reindex(
        out.index
    )

    # Money and units across purchase and return lines.
    purchase = (lines["quantity"] > 0) & ~lines["is_return"]
    disc = lines["discount_amount"].fillna(0.0)
    amt = lines["line_amount"]
    L = pd.DataFrame(
        {
            "customer_id": lines["customer_id"],
            "bought": amt.where(purchase),
            "returned": amt.where(lines["is_return"]),
            "units": lines["quantity"].where(purchase),
            "runits": lines["quantity"].abs().where(lines["is_return"]),
            "dsum": disc.where(purchase),
            "plines": purchase.astype(int),
            "full": (purchase & (disc == 0)).astype(int),
            "dvalue": amt.where(purchase & (disc > 0)),
            "rorder": lines["order_id"].where(lines["is_return"]),
        }
    )
    gl = L.groupby("customer_id", sort=False)
    s = gl[["bought", "returned", "units", "runits", "dsum", "dvalue"]].sum(min_count=1)
    s["plines"], s["full"], s["rorders"] = gl["plines"].sum(), gl["full"].sum(), gl["rorder"].nunique()
    s = s.reindex(out.index)
    bought = s["bought"].fillna(0.0)
    rabs = s["returned"].fillna(0.0).abs()
    f.update(
        {
            "purchase_value__lifetime_value": bought - rabs,
            "price_sensitivity__avg_discount_pct": _ratio(s["dsum"], bought + s["dsum"]),
            "price_sensitivity__full_price_ratio": s["full"] / s["plines"],
            "return_behavior__return_rate": _ratio(s["runits"].fillna(0.0), s["units"]),
            "return_behavior__return_value_ratio": _ratio(rabs, bought),
            "problem_complexity__refund_rate": s["rorders"] / n,
            "problem_complexity__return_frequency": s["rorders"] / np.maximum(tenure_m, 1.0),
            "problem_complexity__discount_dependency": _ratio(s["dvalue"].fillna(0.0), bought),
        }
    )

    idx = o[["customer_id", "order_id", "idx", "n"]]
    purchases = buy.merge(idx, on=["customer_id", "order_id"], how="inner")
    product_columns = (
        "repurchase_behavior__r",
        "repurchase_behavior__s",
        "product_knowledge",
        "customer_maturity__e",
        "value_sophistication__discount",
    )
    if any(c.startswith(product_columns) for c in wanted):
        f.update(_product_features(purchases, out.index))
    if any(c.startswith("category_exploration") for c in wanted):
        f.update(_category_features(purchases, o, out.index))
    if any(c in wanted for c in ("value_sophistication__price_point_comfort", "value_sophistication__luxury_rate")):
        f.update(_price_features(purchases, planned_category=any_category(lines), index=out.index))
    if any(c.startswith("communication_preference") for c in wanted):
        f.update(_channel_features(o, tix, zone, out.index))
    if any(c.startswith("support_history") for c in wanted):
        t = (
            tix.assign(esc=tix["escalated"].fillna(False).astype(int))
            .groupby("customer_id")
            .agg(tickets=("created_ts", "size"), sat=("satisfaction", "mean"), esc=("esc", "sum"))
        )
        t = t.reindex(out.index)
        tk = t["tickets"].fillna(0)
        f["support_history__tickets_per_order"] = tk / n
        f["support_history__satisfaction_avg"] = t["sat"]
        f["support_history__escalation_rate"] = (t["esc"] / tk).where(tk > 0)
    table = pd.DataFrame({c: pd.to_numeric(f[c].reindex(out.index), errors="coerce").astype(float) for c in wanted})
    return table, planned


def any_category(lines: pd.DataFrame) -> bool:
    return bool(lines["category"].notna().any())


def _median(values: pd.Series, by: pd.Series) -> pd.Series:
    return values.groupby(by).quantile(0.5, interpolation="linear")


def _product_features(p: pd.DataFrame, index: pd.Index) -> dict[str, pd.Series]:
    p = p[p["product_id"].notna()].copy()
    p["median_price"] = p["product_id"].map(_median(p["unit_price"], p["product_id"]))
    key = [p["customer_id"], p["product_id"]]
    gp = p.groupby(key, sort=False)
    p["first_idx"] = gp["idx"].transform("min")
    later = p["idx"] >= p["n"] - np.floor(p["n"] / 2)
    priced = p["median_price"].notna()
    p["repeat"] = priced & (p["idx"] > p["first_idx"])
    prod = (
        p.assign(later=later, earlier=~later)
        .groupby(["customer_id", "product_id"], sort=False)
        .agg(
            spend=("line_amount", "sum"),
            first=("idx", "min"),
            last=("idx", "max"),
            later=("later", "max"),
            earlier=("earlier", "max"),
        )
    )
    gc = prod.groupby(level=0, sort=False)
    per = pd.DataFrame(
        {
            "p_squares": (prod["spend"] ** 2).groupby(level=0).sum(),
            "total": gc["spend"].sum(),
            "products": gc.size(),
            "repeat_products": (prod["last"] > prod["first"]).groupby(level=0).sum(),
            "later": prod["later"].groupby(level=0).sum(),
            "earlier": prod["earlier"].groupby(level=0).sum(),
        }
    )
    gl = p.groupby("customer_id", sort=False)
    per["k"] = priced.groupby(p["customer_id"]).sum()
    per["repeat_lines"] = p["repeat"].groupby(p["customer_id"]).sum()
    per["spend"] = p["line_amount"].where(priced).groupby(p["customer_id"]).sum()
    cheap = priced & (p["unit_price"] < p["median_price"])
    per["cheap"] = p["line_amount"].where(cheap).groupby(p["customer_id"]).sum()
    per["repeat_orders"] = p.groupby(["customer_id", "order_id"])["repeat"].max().groupby(level=0).sum()
    per["n"] = gl["n"].max()
    per = per[per["k"] > 0].reindex(index)
    n, total = per["n"], per["total"]
    return {
        "customer_maturity__expansion_rate": (per["later"] / np.maximum(per["earlier"], 1)).where(n >= 2),
        "repurchase_behavior__repeat_purchase_rate": (per["repeat_orders"] / (n - 1)).where(n >= 2),
        "repurchase_behavior__same_product_rate": per["repeat_lines"] / per["k"],
        "product_knowledge__product_concentration": (per["p_squares"] / (total * total)).where(total > 0),
        "product_knowledge__repeat_product_rate": per["repeat_products"] / per["products"],
        "product_knowledge__expertise_level": per["products"].astype(float),
        "value_sophistication__discount_hunt_score": _ratio(per["cheap"], per["spend"]),
    }


def _category_features(p: pd.DataFrame, o: pd.DataFrame, index: pd.Index) -> dict[str, pd.Series]:
    c = p[p["category"].notna()]
    poc = c.groupby(["customer_id", "order_id", "idx", "n", "category"], sort=False)["line_amount"].sum().reset_index()
    main = (
        poc.sort_values(["customer_id", "order_id", "line_amount", "category"], ascending=[True, True, False, True])
        .drop_duplicates(["customer_id", "order_id"])[["customer_id", "order_id", "category"]]
        .rename(columns={"category": "main"})
    )
    seq = o[["customer_id", "order_id", "idx", "n"]].merge(main, on=["customer_id", "order_id"], how="left")
    seq = seq.sort_values(["customer_id", "idx"])
    prev = seq.groupby("customer_id")["main"].shift()
    same = (seq["main"] == prev) | (seq["main"].isna() & prev.isna())
    seq["switch"] = (seq["idx"] >= 1) & ~same
    sw = seq.groupby("customer_id").agg(n=("n", "first"), switches=("switch", "sum"))
    poc["first_idx"] = poc.groupby(["customer_id", "category"])["idx"].transform("min")
    poc["novel"] = poc["order_id"].where((poc["idx"] == poc["first_idx"]) & (poc["idx"] >= 1))
    nv = poc.groupby("customer_id").agg(categories=("category", "nunique"), novel=("novel", "nunique"))
    j = sw.join(nv, how="inner").reindex(index)
    n = j["n"]
    return {
        "category_exploration__unique_categories": j["categories"].astype(float),
        "category_exploration__category_switches": (j["switches"] / (n - 1)).where(n >= 2),
        "category_exploration__new_category_rate": (j["novel"] / (n - 1)).where(n >= 2),
    }


def _price_features(p: pd.DataFrame, *, planned_category: bool, index: pd.Index) -> dict[str, pd.Series]:
    p = p[p["unit_price"].notna()].copy()
    p["group"] = p["category"].fillna("") if planned_category else ""
    ladder = p.groupby(["group", "unit_price"]).size().rename("k").reset_index().sort_values(["group", "unit_price"])
    gl = ladder.groupby("group")
    ladder["below"] = gl["k"].cumsum() - ladder["k"]
    ladder["group_n"] = gl["k"].transform("sum")
    ladder["pct_rank"] = np.where(ladder["group_n"] > 1, ladder["below"] / (ladder["group_n"] - 1).clip(lower=1), 0.0)
    p90 = p.groupby("group")["unit_price"].quantile(0.9, interpolation="linear").rename("p90")
    r = p.merge(ladder[["group", "unit_price", "pct_rank"]], on=["group", "unit_price"]).merge(
        p90, left_on="group", right_index=True
    )
    r["lux"] = (r["unit_price"] >= r["p90"]).astype(float)
    g = r.groupby("customer_id")
    return {
        "value_sophistication__price_point_comfort": g["pct_rank"].mean().reindex(index),
        "value_sophistication__luxury_rate": g["lux"].mean().reindex(index),
    }


def _channel_features(o: pd.DataFrame, tix: pd.DataFrame | None, zone: str, index: pd.Index) -> dict[str, pd.Series]:
    touches = o.loc[o["order_channel"].notna(), ["customer_id", "order_channel", "local_time"]].rename(
        columns={"order_channel": "channel"}
    )
    if tix is not None:
        t = tix[tix["channel"].notna()]
        t = pd.DataFrame(
            {"customer_id": t["customer_id"], "channel": t["channel"], "local_time": _local(t["created_ts"], zone)}
        )
        touches = pd.concat([t, touches[~touches["customer_id"].isin(set(t["customer_id"]))]], ignore_index=True)
    per = touches.groupby(["customer_id", "channel"]).size()
    g = per.groupby(level=0)
    angle = _hour_angle(touches["local_time"])
    mean = (
        pd.DataFrame({"s": np.sin(angle), "c": np.cos(angle), "customer_id": touches["customer_id"]})
        .groupby("customer_id")[["s", "c"]]
        .mean()
    )
    a = np.arctan2(mean["s"], mean["c"])
    return {
        "communication_preference__primary_channel_share": (g.max() / g.sum()).reindex(index),
        "communication_preference__channel_diversity": g.size().astype(float).reindex(index),
        "communication_preference__contact_hour_sin": np.sin(a).reindex(index),
        "communication_preference__contact_hour_cos": np.cos(a).reindex(index),
    }


# ------------------------------------------------------------------------------------------ fit, score
def transform(x: np.ndarray, kind: str, impute: float, low: float = 0.0, high: float = 0.0) -> np.ndarray:
    x = np.where(np.isnan(x), impute, x)
    if kind == "log1p":
        return np.log1p(np.maximum(x, 0.0))
    if kind == "signed_log1p":
        return np.sign(x) * np.log1p(np.abs(x))
    if kind == "clip":
        return np.clip(x, low, high)
    return x


def silhouette(x: np.ndarray, labels: np.ndarray) -> float:
    """Spark's ClusteringEvaluator silhouette with squared Euclidean distance, in closed form.

    The mean squared distance of a point to a cluster C is ||x||^2 + Psi_C / N_C - 2 x.Y_C / N_C, with Y_C
    the sum of C's points and Psi_C the sum of their squared norms; a point alone in its cluster scores 0.
    """
    ks = np.unique(labels)
    onehot = (labels[:, None] == ks[None, :]).astype(float)
    counts = onehot.sum(axis=0)
    sums = onehot.T @ x
    sq = (x * x).sum(axis=1)
    psi = onehot.T @ sq
    d = sq[:, None] + (psi / counts)[None, :] - 2.0 * (x @ sums.T) / counts[None, :]
    own = onehot.astype(bool)
    n_own = counts[np.searchsorted(ks, labels)]
    # The mean over the other points of its cluster: the point itself contributed a zero distance.
    a = d[own] * n_own / np.maximum(n_own - 1, 1)
    b = np.where(own, np.inf, d).min(axis=1)
    s = np.where(a < b, 1 - a / np.where(b > 0, b, 1), np.where(a > b, b / np.where(a > 0, a, 1) - 1, 0.0))
    return float(np.where(n_own == 1, 0.0, s).mean())


@dataclass
class AxisFit:
    columns: list[str]
    kinds: list[tuple]
    mean: np.ndarray
    std: np.ndarray
    centres: np.ndarray
    k: int
    silhouettes: dict[int, float]


def fit(
    table: pd.DataFrame,
    planned: dict,
    *,
    k_min: int = 2,
    k_max: int = 6,
    seed: int = 42,
    min_share: float = 0.01,
    min_customers: int = 10,
) -> dict[str, AxisFit]:
    total = len(table)
    min_size = max(1, math.ceil(max(min_share * total, min_customers) - 1e-9))
    fits = {}
    for axis, spec in planned.items():
        cols = [f"{axis}__{f}" for f in spec["features"]]
        observed = table[cols].notna().all(axis=1).sum()
        if observed < k_min * min_size:
            continue
        kinds, xs = [], []
        for f, t in spec["features"].items():
            v = table[f"{axis}__{f}"].to_numpy()
            med = float(np.nanquantile(v, 0.5)) if np.isfinite(v).any() else 0.0
            if isinstance(t, dict):
                low, high = (float(q) for q in np.nanquantile(v, t["clip"]))
                kinds.append(("clip", med, low, high))
            else:
                kinds.append((t, med, 0.0, 0.0))
            xs.append(transform(v, *kinds[-1]))
        x = np.column_stack(xs)
        mean, std = x.mean(axis=0), x.std(axis=0, ddof=1)
        z = np.where(std > 0, (x - mean) / np.where(std > 0, std, 1), 0.0)
        scores, models = {}, {}
        for k in range(k_min, k_max + 1):
            if k * min_size > total:
                break
            km = KMeans(n_clusters=k, n_init=1, random_state=seed, max_iter=50, tol=1e-4).fit(z)
            sizes = np.bincount(km.labels_, minlength=k)
            if (sizes > 0).sum() < k or sizes.min() < min_size:
                continue
            scores[k], models[k] = silhouette(z, km.labels_), km
        if not scores:
            continue
        best = max(scores, key=lambda kk: (round(scores[kk], 9), -kk))
        fits[axis] = AxisFit(cols, kinds, mean, std, models[best].cluster_centers_, best, scores)
    return fits


def score(table: pd.DataFrame, fits: dict[str, AxisFit]) -> dict[str, np.ndarray]:
    """Per axis, memberships (customers x segments): softmax of minus the Euclidean distances."""
    out = {}
    for axis, m in fits.items():
        z = _scaled(table, m)
        d = np.sqrt(((z[:, None, :] - m.centres[None, :, :]) ** 2).sum(axis=2))
        e = np.exp(-(d - d.min(axis=1, keepdims=True)))
        out[axis] = e / e.sum(axis=1, keepdims=True)
    return out


def drift(now: pd.Index, m_now: dict, then: pd.Index, m_then: dict, days: int) -> pd.DataFrame:
    """Per customer in both snapshots and axis: velocity and alert, and whether the dominant segment changed."""
    both = now.intersection(then)
    i, j = now.get_indexer(both), then.get_indexer(both)
    cols = {}
    for axis in m_now:
        diff = m_now[axis][i] - m_then[axis][j]
        v = np.sqrt((diff * diff).sum(axis=1)) / days
        cols[f"{axis}__velocity"] = v
        cols[f"{axis}__alert"] = np.where(v > 0.015, "RAPID_DRIFT", np.where(v > 0.008, "MODERATE_DRIFT", "STABLE"))
        cols[f"{axis}__changed"] = m_now[axis][i].argmax(axis=1) != m_then[axis][j].argmax(axis=1)
    return pd.DataFrame(cols, index=both)


# -------------------------------------------------------------------------------------------- pipeline
@dataclass
class Result:
    seconds: dict[str, float]
    lines: int
    quarantined: int
    table: pd.DataFrame
    planned: dict
    fits: dict[str, AxisFit]
    memberships: dict[str, np.ndarray]
    drift_rows: int


def run(source: str, as_of: date | None = None, root: Path = ROOT, offsets=OFFSETS, log=print) -> Result:
    """The whole pipeline; `seconds` per step."""
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    mapping = load_mapping(source)
    zone = (mapping.get("timestamp") or {}).get("zone") or "UTC"
    date_only = (mapping.get("timestamp") or {}).get("date_only")
    now_us = int(time.time() * 10**6)  # the quarantine's future cut-off, as segspark's default
    lines, quarantined = ingest(mapping, root, now_us)
    tickets = ingest_tickets(mapping, root)
    seconds["ingest"] = time.perf_counter() - t
    if as_of is None:
        as_of = pd.to_datetime(int(lines["order_ts"].max()), unit="us").date() + timedelta(days=1)
    axes = yaml.safe_load(AXES_FILE.read_text())["axes"]
    t = time.perf_counter()
    table, planned = features(lines, tickets, as_of, zone, axes, date_only)
    seconds["features"] = time.perf_counter() - t
    t = time.perf_counter()
    fits = fit(table, planned)
    seconds["fit"] = time.perf_counter() - t
    t = time.perf_counter()
    memberships = score(table, fits)
    seconds["score"] = time.perf_counter() - t
    t = time.perf_counter()
    baselines = {}
    for days in offsets:
        base_table, _ = features(lines, tickets, as_of - timedelta(days=days), zone, axes, date_only)
        if len(base_table):
            baselines[days] = (base_table.index, score(base_table, fits))
    seconds["backfill"] = time.perf_counter() - t
    t = time.perf_counter()
    rows = sum(len(drift(table.index, memberships, idx, m, days)) for days, (idx, m) in baselines.items())
    seconds["drift"] = time.perf_counter() - t
    log(
        f"reference {source} as of {as_of}: {len(lines):,} lines ({quarantined:,} quarantined), "
        f"{len(table):,} customers, {len(fits)} axes, {rows:,} drift rows; "
        + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items())
    )
    return Result(seconds, len(lines), quarantined, table, planned, fits, memberships, rows)


# ------------------------------------------------------------------------------------------------ check
def _committed(table_dir: Path, key: str, value: str) -> pd.DataFrame:
    """The rows of one committed partition, read with pandas alone (the marker names the run)."""
    marker = next((table_dir / "_commits" / f"{key}={value}").glob("*/marker.json"))
    run_id = json.loads(marker.read_text())["run_id"]
    return pd.read_parquet(table_dir / f"{key}={value}" / f"run_id={run_id}")


def _from_manifest(model: dict) -> AxisFit:
    kinds = []
    for f in model["features"]:
        t = model["transforms"][f]
        kinds.append((t["kind"], float(model["impute"][f]), float(t.get("low", 0.0)), float(t.get("high", 0.0))))
    return AxisFit(
        list(model["columns"]),
        kinds,
        np.asarray(model["scaler_mean"]),
        np.asarray(model["scaler_scale"]),
        np.asarray(model["centers_scaled"]),
        int(model["k"]),
        {},
    )


def _scaled(table: pd.DataFrame, m: AxisFit) -> np.ndarray:
    x = np.column_stack([transform(table[c].to_numpy(), *kind) for c, kind in zip(m.columns, m.kinds, strict=True)])
    return np.where(m.std > 0, (x - m.mean) / np.where(m.std > 0, m.std, 1), 0.0)


def check(result: Result, warehouse: Path, as_of: date) -> bool:
    """Compare with segspark's committed features, model and profiles for the same as-of date; True if all agree."""
    ok = True
    theirs = _committed(warehouse / "features", "snapshot_date", as_of.isoformat()).set_index("customer_id")
    ours = result.table
    if set(theirs.index) != set(ours.index):
        print(
            f"customers differ: {len(ours.index.difference(theirs.index))} only here, "
            f"{len(theirs.index.difference(ours.index))} only in segspark"
        )
        ok = False
    cols = [c for c in theirs.columns if c in ours.columns]
    missing = sorted(set(theirs.columns) ^ set(ours.columns))
    if missing:
        print(f"feature columns differ: {missing}")
        ok = False
    a, b = ours.loc[theirs.index, cols].to_numpy(), theirs[cols].to_numpy(dtype=float)
    same = np.isclose(a, b, rtol=1e-9, atol=1e-9) | (np.isnan(a) & np.isnan(b))
    for j, c in enumerate(cols):
        bad = (~same[:, j]).sum()
        if bad:
            i = np.flatnonzero(~same[:, j])[0]
            print(f"  {c}: {bad} customers differ, e.g. {theirs.index[i]}: reference {a[i, j]!r}, segspark {b[i, j]!r}")
            ok = False
    print(
        f"features: {len(cols)} columns x {len(theirs):,} customers, "
        f"{int(same.sum()):,} of {same.size:,} values equal within 1e-9"
    )
    manifest_path = max((warehouse / "models").glob("*/manifest.json"), key=lambda p: p.stat().st_mtime)
    manifest = json.loads(manifest_path.read_text())
    profiles = _committed(warehouse / "customer_profiles", "snapshot_date", as_of.isoformat()).set_index("customer_id")
    rows = ours.index.get_indexer(profiles.index)
    ours = ours.iloc[rows]
    rows = np.arange(len(rows))
    agree = 0
    for axis, model in manifest["axes"].items():
        theirs_fit = _from_manifest(model)
        # Scoring: the reference's formula on segspark's model against segspark's memberships.
        m = score(ours, {axis: theirs_fit})[axis][rows]
        ids = model["segment_ids"]
        per_axis = [dict(dict(d)[axis]) for d in profiles["segment_memberships"]]
        their_m = np.array([[d[s] for s in ids] for d in per_axis])
        worst = float(np.abs(m - their_m).max())
        # The silhouette: the closed form on segspark's own clustering against what ClusteringEvaluator reported.
        z = _scaled(ours, theirs_fit)
        labels = np.linalg.norm(z[:, None, :] - theirs_fit.centres[None], axis=2).argmin(axis=1)
        sil = silhouette(z, labels)
        reported = float(model["silhouette_by_k"][str(model["k"])])
        line = (
            f"  {axis}: segspark k={model['k']} (silhouette {reported:.4f}; closed form here {sil:.4f}); "
            f"memberships from its model max diff {worst:.1e}"
        )
        ok &= worst <= 1e-6 and (model["k_search_rows"] < len(ours) or abs(sil - reported) <= 1e-6)
        mine = result.fits.get(axis)
        if mine is None:
            line += "; the reference's k-means++ isolates outliers at every k (no usable k): axis skipped there"
        else:
            ranked = sorted(mine.silhouettes.values(), reverse=True)
            clear = len(ranked) < 2 or ranked[0] - ranked[1] > 0.01
            line += f"; reference k={mine.k}" + ("" if clear else " (its best two silhouettes within 0.01)")
            agree += mine.k == model["k"]
        print(line)
    print(
        f"chosen k agrees on {agree} of {len(manifest['axes'])} axes segspark fitted "
        f"({len(result.fits)} fitted by the reference)"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", default="online_retail_ii", help="a shipped mapping name or a mapping file")
    ap.add_argument("--as-of", type=date.fromisoformat, default=None)
    ap.add_argument("--root", type=Path, default=ROOT, help="the directory the mapping's source path is relative to")
    ap.add_argument("--check", type=Path, default=None, help="a warehouse `segspark run` wrote for the same as-of")
    ap.add_argument("--json", type=Path, default=None, help="write the step times and counts here")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    result = run(args.source, args.as_of, args.root)
    print(f"total {time.perf_counter() - start:.1f} s")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "seconds": result.seconds,
                    "lines": result.lines,
                    "quarantined": result.quarantined,
                    "customers": len(result.table),
                    "axes": {a: f.k for a, f in result.fits.items()},
                    "drift_rows": result.drift_rows,
                },
                indent=1,
            )
        )
    if args.check:
        newest = max((args.check / "models").glob("*/manifest.json"), key=lambda p: p.stat().st_mtime)
        as_of = args.as_of or date.fromisoformat(json.loads(newest.read_text())["as_of"])
        return 0 if check(result, args.check, as_of) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
