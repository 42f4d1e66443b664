"""Which snapshot serves each drift offset: tolerance windows, placement of computed ones, history's start."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from segspark.history.baselines import (
    BEFORE_HISTORY,
    COMMITTED,
    MISSING,
    plan_baselines,
    resolved,
    to_compute,
    trend_dates,
)

D = date(2011, 12, 19)
OFFSETS = (7, 14, 28, 60, 90, 180)


def days_before(*n: int) -> list[date]:
    return [D - timedelta(days=x) for x in n]


def by_offset(plan: list) -> dict:
    return {b.offset: b for b in plan}


def test_demo_backfill_dates_serve_the_next_monday_within_tolerance() -> None:
    # The demo ran as of Saturday 2011-12-10 with snapshots at D0-7 ... D0-180; the weekly job runs Monday 12-12.
    monday = date(2011, 12, 12)
    demo = date(2011, 12, 10)
    committed = [demo - timedelta(days=o) for o in (0, *OFFSETS)]
    plan = by_offset(plan_baselines(monday, OFFSETS, committed, tolerance_days=3, tolerance_fraction=0.1))
    assert {o: b.used for o, b in plan.items()} == {o: demo - timedelta(days=o) for o in OFFSETS}
    assert all(b.status == COMMITTED for b in plan.values())
    assert plan[7].days_elapsed(monday) == 9


def test_nearest_snapshot_wins_and_exact_beats_near() -> None:
    committed = days_before(6, 7, 8, 13, 15)
    plan = by_offset(plan_baselines(D, [7, 14], committed, tolerance_days=3))
    assert plan[7].used == D - timedelta(days=7)
    # 13 and 15 are both one day off 14: the earlier date is taken.
    assert plan[14].used == D - timedelta(days=15)


def test_tolerance_grows_with_the_offset() -> None:
    # 180 days: max(3, 0.1 * 180) = 18 days of tolerance; 28 days: 3.
    committed = days_before(33, 195)
    plan = by_offset(plan_baselines(D, [28, 180], committed, tolerance_days=3, tolerance_fraction=0.1))
    assert plan[28].status == MISSING and plan[28].tolerance == 3
    assert plan[180].used == D - timedelta(days=195) and plan[180].tolerance == 18


def test_a_snapshot_serves_one_offset_only() -> None:
    committed = days_before(8)
    plan = by_offset(plan_baselines(D, [7, 9], committed, tolerance_days=3))
    assert plan[7].used == D - timedelta(days=8)
    assert plan[9].status == MISSING


def test_missing_baselines_are_placed_late_in_their_window_and_then_resolve() -> None:
    plan = plan_baselines(D, [60, 90], [], tolerance_days=3, tolerance_fraction=0.1)
    # 60 -> window of 6 days, placed at D-54; 90 -> 9 days, at D-81.
    assert to_compute(plan) == days_before(54, 81)
    done = by_offset(resolved(plan, to_compute(plan)))
    assert done[60].used == D - timedelta(days=54) and done[60].status == COMMITTED
    # A week later the same snapshot still serves 90 days (D+7-90 is 2 days from D-81).
    later = by_offset(
        plan_baselines(D + timedelta(days=7), [90], days_before(81), tolerance_days=3, tolerance_fraction=0.1)
    )
    assert later[90].used == D - timedelta(days=81)


def test_baselines_before_the_first_order_are_skipped_with_a_reason() -> None:
    first = D - timedelta(days=40)
    plan = by_offset(plan_baselines(D, OFFSETS, [], tolerance_days=3, tolerance_fraction=0.1, first_order=first))
    assert {o for o, b in plan.items() if b.status == BEFORE_HISTORY} == {60, 90, 180}
    assert "first order" in plan[90].reason
    assert to_compute(list(plan.values())) == days_before(4, 11, 25)


def test_trend_needs_all_four_offsets() -> None:
    full = plan_baselines(D, OFFSETS, days_before(7, 14, 28, 60, 90, 180), tolerance_days=3)
    assert trend_dates(full) == dict(zip((7, 14, 90, 180), days_before(7, 14, 90, 180), strict=True))
    partial = plan_baselines(D, OFFSETS, days_before(7, 14, 90), tolerance_days=3)
    assert trend_dates(partial) is None


def test_bad_offsets_and_tolerances_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        plan_baselines(D, [0], [], tolerance_days=3)
    with pytest.raises(ValueError, match="tolerances"):
        plan_baselines(D, [7], [], tolerance_days=-1)


def test_a_computed_baseline_that_could_not_be_scored_is_reported() -> None:
    from segspark.history.baselines import UNSCORABLE

    plan = plan_baselines(D, [7, 60], [], tolerance_days=3, tolerance_fraction=0.1)
    placed = to_compute(plan)
    done = by_offset(resolved(plan, placed[:1], {placed[1]: "no return data yet"}))
    assert done[7].status == COMMITTED and done[7].used == placed[0]
    assert done[60].status == UNSCORABLE and done[60].used is None and done[60].reason == "no return data yet"
