"""Every feature on a hand-made history; expected values derived by hand in the comments."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from pyspark.sql import SparkSession

from segspark.features.axes import load_axes
from segspark.features.engine import compute_features
from tests.features_history import AS_OF, history

MONTH = 30.4375


@pytest.fixture(scope="module")
def feats(spark: SparkSession) -> dict[str, dict[str, Any]]:
    df, plan = compute_features(history(spark), load_axes(), as_of=AS_OF, zone="UTC")
    rows = {r["customer_id"]: r.asDict() for r in df.collect()}
    assert list(plan.skipped) == ["support_history"] and "no support tickets" in plan.skipped["support_history"]
    return rows


def approx(x: float) -> Any:
    return pytest.approx(x, rel=1e-12, abs=1e-12)


def test_only_customers_with_orders_before_as_of(feats: dict[str, dict[str, Any]]) -> None:
    assert sorted(feats) == ["A", "B", "C"]  # D's only order is after as_of


# Customer A. Orders (UTC): O1 Sat 2024-01-06 10:00 value 30, O2 Tue 01-16 10:00 value 5,
# O3 Sat 03-16 22:00 value 40, O4 Wed 05-15 10:00 value 50; return R1 of 1 x 30.
# Gaps: 10 d; 01-16 10:00 -> 03-16 22:00 = 31 + 29 d + 12 h = 60.5 d; 03-16 22:00 -> 05-15 10:00 = 59.5 d.
GAPS_A = [10.0, 60.5, 59.5]
MEAN_GAP_A = 130 / 3
# Tenure: 01-06 10:00 -> 07-01 00:00 = 182 - 5 days - 10 h = 176 + 14/24 days.
TENURE_A = (176 + 14 / 24) / MONTH
# Since last order: 05-15 10:00 -> 07-01 00:00 = 47 d - 10 h.
SINCE_A = 47 - 10 / 24


def test_purchase_frequency(feats: dict[str, dict[str, Any]]) -> None:
    a = feats["A"]
    assert a["purchase_frequency__orders_per_month"] == approx(4 / TENURE_A)
    assert a["purchase_frequency__avg_days_between_orders"] == approx(MEAN_GAP_A)
    # 90 days before 07-01 is 04-02: only O4.
    assert a["purchase_frequency__recent_orders_90d"] == 1
    std = math.sqrt(sum((g - MEAN_GAP_A) ** 2 for g in GAPS_A) / 3)
    assert a["purchase_frequency__purchase_consistency"] == approx(1 / (1 + std / MEAN_GAP_A))
    # B: gaps 10, 10, 2, 2: mean 6, population std 4 -> 1 / (1 + 4/6) = 0.6.
    assert feats["B"]["purchase_frequency__purchase_consistency"] == approx(0.6)
    # C: one order an hour old; tenure floors at one month.
    c = feats["C"]
    assert c["purchase_frequency__orders_per_month"] == 1.0
    assert c["purchase_frequency__avg_days_between_orders"] is None
    assert c["purchase_frequency__purchase_consistency"] is None


def test_purchase_value(feats: dict[str, dict[str, Any]]) -> None:
    a = feats["A"]
    assert a["purchase_value__avg_order_value"] == approx(31.25)  # (30 + 5 + 40 + 50) / 4
    assert a["purchase_value__lifetime_value"] == approx(95.0)  # 125 bought - 30 returned
    x = np.array([0.0, 10.0, 70.5, 130.0]) / MONTH  # months since the first order
    slope = np.polyfit(x, [30.0, 5.0, 40.0, 50.0], 1)[0]
    assert a["purchase_value__value_trend"] == pytest.approx(slope, rel=1e-9)
    assert feats["B"]["purchase_value__value_trend"] == approx(0.0)  # every order is worth 6
    assert feats["C"]["purchase_value__value_trend"] is None


def test_category_exploration(feats: dict[str, dict[str, Any]]) -> None:
    a = feats["A"]
    assert a["category_exploration__unique_categories"] == 3  # X, Y, Z
    # Main categories: O1 Y (20 > 10), O2 X, O3 Z, O4 Z (30 > 20): switches Y->X, X->Z of 3 pairs.
    assert a["category_exploration__category_switches"] == approx(2 / 3)
    # New category after the first order: only O3 (Z).
    assert a["category_exploration__new_category_rate"] == approx(1 / 3)
    assert feats["B"]["category_exploration__category_switches"] == 0.0


def test_price_sensitivity(feats: dict[str, dict[str, Any]]) -> None:
    a = feats["A"]
    assert a["price_sensitivity__discount_usage_rate"] == approx(0.5)  # O1 and O3
    assert a["price_sensitivity__avg_discount_pct"] == approx(6 / 131)  # 6 / (125 + 6)
    assert a["price_sensitivity__full_price_ratio"] == approx(4 / 6)


def test_purchase_cadence(feats: dict[str, dict[str, Any]]) -> None:
    a = feats["A"]
    assert a["purchase_cadence__weekend_ratio"] == approx(0.5)
    # Hours 10, 10, 22, 10: mean vector (-sqrt(3)/4, 1/4), length 1/2.
    assert a["purchase_cadence__time_of_day_consistency"] == approx(0.5)
    assert a["purchase_cadence__seasonal_concentration"] == approx(0.375)  # Jan 1/2, Mar 1/4, May 1/4
    assert feats["B"]["purchase_cadence__time_of_day_consistency"] == approx(1.0)


def test_customer_maturity(feats: dict[str, dict[str, Any]]) -> None:
    a = feats["A"]
    assert a["customer_maturity__tenure_months"] == approx(TENURE_A)
    assert a["customer_maturity__days_since_last_order"] == approx(SINCE_A)
    # Later half O3, O4: {P3, P2, P4}; earlier half O1, O2: {P1, P2}.
    assert a["customer_maturity__expansion_rate"] == approx(1.5)
    assert feats["C"]["customer_maturity__expansion_rate"] is None


def test_repurchase_behavior(feats: dict[str, dict[str, Any]]) -> None:
    a = feats["A"]
    assert a["repurchase_behavior__repeat_purchase_rate"] == approx(2 / 3)  # O2 (P1) and O4 (P2)
    assert a["repurchase_behavior__same_product_rate"] == approx(2 / 6)  # lines of O2/P1 and O4/P2
    assert a["repurchase_behavior__loyalty_index"] == approx(3 / 6)  # Jan, Mar, May of Jan..Jun
    assert feats["B"]["repurchase_behavior__loyalty_index"] == approx(1 / 5)  # Feb of Feb..Jun
    assert feats["B"]["repurchase_behavior__same_product_rate"] == approx(4 / 5)


def test_return_behavior_and_problem_complexity(feats: dict[str, dict[str, Any]]) -> None:
    a = feats["A"]
    assert a["return_behavior__return_rate"] == approx(1 / 10)  # 1 unit back of 10 bought
    assert a["return_behavior__return_value_ratio"] == approx(30 / 125)
    assert a["problem_complexity__refund_rate"] == approx(1 / 4)
    assert a["problem_complexity__return_frequency"] == approx(1 / TENURE_A)
    assert a["problem_complexity__discount_dependency"] == approx(60 / 125)  # lines of 20 and 40
    assert feats["B"]["return_behavior__return_rate"] == 0.0


def test_communication_preference(feats: dict[str, dict[str, Any]]) -> None:
    a = feats["A"]
    assert a["communication_preference__primary_channel_share"] == approx(3 / 4)
    assert a["communication_preference__channel_diversity"] == 2
    # Mean direction of hours 10, 10, 22, 10: (-sqrt(3)/4, 1/4) / (1/2).
    assert a["communication_preference__contact_hour_sin"] == approx(0.5)
    assert a["communication_preference__contact_hour_cos"] == approx(-math.sqrt(3) / 2)


def test_loyalty_trajectory(feats: dict[str, dict[str, Any]]) -> None:
    a = feats["A"]
    # [04-02, 07-01): 1 order; [01-03, 04-02): 3 orders.
    assert a["loyalty_trajectory__order_frequency_trend"] == approx(math.log(2 / 4))
    assert a["loyalty_trajectory__recency_ratio"] == approx(SINCE_A / MEAN_GAP_A)
    assert a["loyalty_trajectory__acceleration"] == approx(1.0)  # 3 gaps: the last 3 are all of them
    # B: last three gaps 10, 2, 2 against all four 10, 10, 2, 2.
    assert feats["B"]["loyalty_trajectory__acceleration"] == approx((14 / 3) / 6)
    assert feats["C"]["loyalty_trajectory__acceleration"] is None


def test_product_knowledge(feats: dict[str, dict[str, Any]]) -> None:
    a = feats["A"]
    # Spend P1 15, P2 40, P3 40, P4 30 of 125.
    assert a["product_knowledge__product_concentration"] == approx(0.12**2 + 0.32**2 + 0.32**2 + 0.24**2)
    assert a["product_knowledge__repeat_product_rate"] == approx(0.5)  # P1 and P2
    assert a["product_knowledge__expertise_level"] == 4


def test_value_sophistication(feats: dict[str, dict[str, Any]]) -> None:
    # Population lines by category: X [5, 5, 6, 6, 6, 6, 6], Y [20, 20], Z [10, 30], W [100].
    a, b, c = feats["A"], feats["B"], feats["C"]
    # Percent ranks: X 5 -> 0, X 6 -> 2/6, Y 20 -> 0, Z 10 -> 0, Z 30 -> 1, W -> 0.
    assert a["value_sophistication__price_point_comfort"] == approx(1 / 6)
    assert b["value_sophistication__price_point_comfort"] == approx(1 / 3)
    assert c["value_sophistication__price_point_comfort"] == 0.0
    # 90th percentiles: X 6, Y 20, Z 10 + 0.9 * 20 = 28, W 100.
    assert a["value_sophistication__luxury_rate"] == approx(3 / 6)
    assert b["value_sophistication__luxury_rate"] == 1.0
    # Product medians: P1 6 (A paid 5 on 15 of its 125), P2 20, P3 10, P4 30.
    assert a["value_sophistication__discount_hunt_score"] == approx(15 / 125)
    assert b["value_sophistication__discount_hunt_score"] == 0.0
