"""Which dates `segspark weekly --catch-up` runs (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from segspark.schedule.weekly import missed_dates


def test_catch_up_runs_every_missed_date_oldest_first() -> None:
    monday = date(2011, 12, 26)
    demo = date(2011, 12, 10)  # a Saturday: the cadence counts back from the requested date
    assert missed_dates([demo], monday, 7) == [date(2011, 12, 12), date(2011, 12, 19), monday]
    assert missed_dates([demo, date(2011, 12, 19)], monday, 7) == [monday]
    assert missed_dates([], monday, 7) == [monday]
    # A complete week after the requested date does not count (a rerun of an old date runs that date only).
    assert missed_dates([date(2012, 1, 2)], monday, 7) == [monday]
    with pytest.raises(ValueError, match="cadence_days"):
        missed_dates([demo], monday, 0)
