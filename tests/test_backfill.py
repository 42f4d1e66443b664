"""Backfill orchestration: dates run concurrently, results come back in date order, a failure stops new dates.

The snapshot itself (features + scoring) is covered by the pipeline tests; here it is replaced by a
recording stand-in so the scheduling can be checked without Spark.
"""

from __future__ import annotations

import threading
import time
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest

from segspark import snapshots
from segspark.config import load_config
from segspark.context import RunContext
from segspark.exc import ConfigError
from segspark.history.step import backfill_dates

AS_OF = date(2024, 6, 1)


def _ctx(workers: int, offsets: str = "[7, 14, 28]") -> RunContext:
    config = load_config(sets=[f"history.backfill_workers={workers}", f"history.backfill_offsets={offsets}"])
    return RunContext(config=config, root="/nowhere", run_id="r", mapping=None)  # type: ignore[arg-type]


def _record(
    monkeypatch: pytest.MonkeyPatch, fail: date | None = None, together: int = 1, linger: float = 0.0
) -> dict[str, Any]:
    """Replace the snapshot by a recorder. With `together` > 1 every date waits (up to 30 s) until that many
    dates are running at once: if the scheduler ran them one by one, the wait breaks and the test fails.
    `linger` keeps each date running a while, so a scheduler that should run one date at a time but
    started a second would be seen overlapping (peak 2)."""
    seen: dict[str, Any] = {"started": [], "running": 0, "peak": 0}
    lock = threading.Lock()
    barrier = threading.Barrier(together) if together > 1 else None

    def fake(ctx: RunContext, day: date, model: object, *, label: str = "") -> str:
        with lock:
            seen["started"].append(day)
            seen["running"] += 1
            seen["peak"] = max(seen["peak"], seen["running"])
        if barrier is not None:
            barrier.wait(timeout=30)
        time.sleep(linger)
        with lock:
            seen["running"] -= 1
        if day == fail:
            raise RuntimeError(f"boom on {day}")
        return f"profiles/{day}"

    monkeypatch.setattr(snapshots, "snapshot_step", fake)
    return seen


def test_two_workers_run_two_dates_at_once_and_return_in_date_order(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _record(monkeypatch, together=2)
    ctx = _ctx(workers=2)
    got = snapshots.backfill_step(ctx, backfill_dates(AS_OF, [7, 14, 28]), None)  # type: ignore[arg-type]
    assert list(got.values()) == [
        "profiles/2024-06-01",
        "profiles/2024-05-25",
        "profiles/2024-05-18",
        "profiles/2024-05-04",
    ]
    assert seen["peak"] == 2
    assert ctx.summary["steps"]["backfill"]["workers"] == 2
    assert ctx.summary["steps"]["backfill"]["dates"] == ["2024-06-01", "2024-05-25", "2024-05-18", "2024-05-04"]


def test_one_worker_runs_dates_in_order_newest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _record(monkeypatch, linger=0.2)
    days = [d for d in backfill_dates(AS_OF, [28, 7]) if d != AS_OF]
    got = snapshots.backfill_step(_ctx(workers=1), days, None)  # type: ignore[arg-type]
    assert seen["peak"] == 1
    assert seen["started"] == [date(2024, 5, 25), date(2024, 5, 4)]
    assert list(got.values()) == ["profiles/2024-05-25", "profiles/2024-05-04"]


def test_a_failed_date_stops_new_dates_and_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    # One worker: the second date fails, so the third and fourth never start.
    seen = _record(monkeypatch, fail=date(2024, 5, 25))
    ctx = _ctx(workers=1)
    with pytest.raises(RuntimeError, match="boom on 2024-05-25"):
        snapshots.backfill_step(ctx, backfill_dates(AS_OF, [7, 14, 28]), None)  # type: ignore[arg-type]
    assert seen["started"] == [date(2024, 6, 1), date(2024, 5, 25)]
    assert "backfill" not in ctx.summary.get("steps", {})


def test_workers_below_one_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _record(monkeypatch)
    with pytest.raises(ConfigError, match="backfill_workers"):
        snapshots.backfill_step(_ctx(workers=0), backfill_dates(AS_OF, [7]), None)  # type: ignore[arg-type]


def test_spark_connect_runs_one_date_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _record(monkeypatch, linger=0.2)
    monkeypatch.setattr(snapshots, "is_remote", lambda: True)
    ctx = _ctx(workers=2)
    snapshots.backfill_step(ctx, backfill_dates(AS_OF, [7, 14]), None)  # type: ignore[arg-type]
    assert seen["peak"] == 1
    assert ctx.summary["steps"]["backfill"]["workers"] == 1


def test_an_unscorable_date_is_skipped_with_its_reason_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from segspark.exc import FeatureMismatchError

    def fake(ctx: RunContext, day: date, model: object, *, label: str = "") -> str:
        if day == date(2024, 5, 4):
            raise FeatureMismatchError("features do not match model m1: missing column(s) ['r__x']", ["r__x"])
        return f"profiles/{day}"

    monkeypatch.setattr(snapshots, "snapshot_step", fake)
    days = backfill_dates(AS_OF, [7, 28])
    skipped: dict[date, str] = {}
    model = SimpleNamespace(model_version="m1")
    got = snapshots.backfill_step(_ctx(workers=1), days, model, unscorable=skipped)  # type: ignore[arg-type]
    assert list(got) == [date(2024, 6, 1), date(2024, 5, 25)]
    assert list(skipped) == [date(2024, 5, 4)] and "no input for yet: ['r']" in skipped[date(2024, 5, 4)]
    # Without somewhere to record it, the mismatch is an error, as before.
    with pytest.raises(FeatureMismatchError):
        snapshots.backfill_step(_ctx(workers=1), days, model)  # type: ignore[arg-type]
