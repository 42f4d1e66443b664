"""Support tickets, date-only timestamps and sources without discounts: the feature plan and values by hand."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import pytest
from pyspark.sql import SparkSession

from segspark.features.axes import load_axes
from segspark.features.engine import compute_features, plan_axes
from segspark.schema import TICKETS
from tests.features_history import AS_OF, ROWS, history


def ticket(tid, cust, ts, channel=None, sat=None, esc=None):  # type: ignore[no-untyped-def]
    return (tid, cust, ts, 5.0, channel, "delivery", sat, esc, None)


TICKET_ROWS = [
    ticket("T1", "A", datetime(2024, 2, 1, 9), "chat", 4.0, False),
    ticket("T2", "A", datetime(2024, 5, 21, 15), "chat", 2.0, True),
    ticket("T3", "A", datetime(2024, 6, 10, 9), "email", None, False),
    ticket("T4", "A", datetime(2024, 7, 5, 9), "chat", 1.0, True),  # after as_of: never counts
    ticket("T5", "B", datetime(2024, 2, 12, 10)),  # no channel, unrated, escalation unknown
]


@pytest.fixture(scope="module")
def with_tickets(spark: SparkSession) -> dict[str, dict[str, Any]]:
    tickets = spark.createDataFrame(TICKET_ROWS, TICKETS)
    df, plan = compute_features(history(spark), load_axes(), as_of=AS_OF, zone="UTC", tickets_table=tickets)
    assert "support_history" in [a.name for a in plan.axes] and not plan.skipped
    return {r["customer_id"]: r.asDict() for r in df.collect()}


def approx(x: float) -> Any:
    return pytest.approx(x, rel=1e-12, abs=1e-12)


def test_support_history_by_hand(with_tickets: dict[str, dict[str, Any]]) -> None:
    a, b, c = with_tickets["A"], with_tickets["B"], with_tickets["C"]
    # A: 4 orders, 3 tickets before as_of (2 rated: 4 and 2; 1 of 3 escalated).
    assert a["support_history__tickets_per_order"] == approx(3 / 4)
    assert a["support_history__satisfaction_avg"] == approx(3.0)
    assert a["support_history__escalation_rate"] == approx(1 / 3)
    # B: 5 orders, 1 unrated ticket whose escalation is unknown (counted as not escalated).
    assert b["support_history__tickets_per_order"] == approx(1 / 5)
    assert b["support_history__satisfaction_avg"] is None
    assert b["support_history__escalation_rate"] == 0.0
    # C: no ticket.
    assert c["support_history__tickets_per_order"] == 0.0
    assert c["support_history__satisfaction_avg"] is None and c["support_history__escalation_rate"] is None


def test_contacts_are_tickets_when_a_customer_has_them(with_tickets: dict[str, dict[str, Any]]) -> None:
    a, b = with_tickets["A"], with_tickets["B"]
    # A's contacts are its three tickets with a channel: chat, chat, email at 09:00, 15:00, 09:00.
    assert a["communication_preference__primary_channel_share"] == approx(2 / 3)
    assert a["communication_preference__channel_diversity"] == 2
    # Mean of the hour vectors at 135, 225 and 135 degrees points at atan2(1, -3).
    assert a["communication_preference__contact_hour_sin"] == approx(1 / math.sqrt(10))
    assert a["communication_preference__contact_hour_cos"] == approx(-3 / math.sqrt(10))
    # B's only ticket has no channel: its contacts stay its five store orders.
    assert b["communication_preference__primary_channel_share"] == 1.0
    assert b["communication_preference__channel_diversity"] == 1


def test_date_only_lines_drop_time_of_day_features_only(spark: SparkSession) -> None:
    midnight = [(*r[:2], datetime(r[2].year, r[2].month, r[2].day), *r[3:]) for r in ROWS]
    df, plan = compute_features(history(spark, midnight), load_axes(), as_of=AS_OF, zone="UTC")
    dropped = {
        "purchase_cadence__time_of_day_consistency",
        "communication_preference__contact_hour_sin",
        "communication_preference__contact_hour_cos",
    }
    assert set(plan.dropped) == dropped
    assert all("no time of day" in why for why in plan.dropped.values())
    assert not dropped & set(df.columns)
    # The axes keep their other features, weekday features included.
    assert {"purchase_cadence__weekend_ratio", "communication_preference__channel_diversity"} <= set(df.columns)
    row = {r["customer_id"]: r for r in df.collect()}["A"]
    assert row["purchase_cadence__weekend_ratio"] == approx(2 / 4)
    # A mapping saying the timestamps carry times keeps the features whatever the data look like.
    _, kept = compute_features(history(spark, midnight), load_axes(), as_of=AS_OF, zone="UTC", date_only=False)
    assert not kept.dropped
    # And one saying they do not drops them on data with times.
    _, forced = compute_features(history(spark), load_axes(), as_of=AS_OF, zone="UTC", date_only=True)
    assert set(forced.dropped) == dropped


def test_midnight_is_local_midnight(spark: SparkSession) -> None:
    # A date-only export read in Europe/Berlin is stored at 22:00 or 23:00 UTC: still no time of day there.
    berlin = [
        (*r[:2], datetime(r[2].year, r[2].month, r[2].day) - timedelta(hours=1 if r[2].month < 4 else 2), *r[3:])
        for r in ROWS
    ]
    _, local = compute_features(history(spark, berlin), load_axes(), as_of=AS_OF, zone="Europe/Berlin")
    assert "purchase_cadence__time_of_day_consistency" in local.dropped
    _, utc = compute_features(history(spark, berlin), load_axes(), as_of=AS_OF, zone="UTC")
    assert "purchase_cadence__time_of_day_consistency" not in utc.dropped


def test_problem_complexity_needs_only_returns() -> None:
    inputs = {"orders": True, "returns": True, "discount": False, "time_of_day": True}
    plan = plan_axes(load_axes(), inputs)
    fitted = {a.name: a for a in plan.axes}
    assert list(fitted["problem_complexity"].features) == ["refund_rate", "return_frequency"]
    assert "discount" in plan.dropped["problem_complexity__discount_dependency"]
    assert "price_sensitivity" in plan.skipped
