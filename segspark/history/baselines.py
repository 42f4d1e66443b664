"""Which snapshot serves as the baseline of each configured offset (SPEC section 7).

Velocity is a rate per day, so a baseline need not sit exactly Δ days back. For
snapshot D and offset Δ the target is D - Δ:

- the committed snapshot nearest to the target within the offset's tolerance
  serves (exact first, then the nearer, then the earlier); the drift row records
  the date used and its true days elapsed. The tolerance is
  max(`drift.tolerance_days`, `drift.tolerance_fraction` x Δ), at most Δ/2:
  3 days for 7, 14 and 28; 6, 9 and 18 days for 60, 90 and 180 by default (a
  long horizon does not need day precision). Each snapshot serves one offset;
- otherwise the baseline is missing, and the scheduled command computes a
  snapshot from order history (point in time, with the current model),
  committed like any other snapshot. It is placed at the latest date the window
  allows (target + tolerance), so it keeps serving the following scheduled runs:
  with weekly runs a computed 180-day baseline serves six of them;
- a target on or before the source's first order cannot exist (no customer has
  an order before it): it is skipped with that reason, never an error. So is a
  computed one whose features lack an axis the model scores (the source had, say,
  no returns yet then).

Weekly snapshots alone serve every offset once the history is long enough
(60 is met by D-56 or D-63, 90 by D-91, 180 by D-182), so a steady weekly run
computes no extra snapshot; until then it computes about one a week.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

COMMITTED, MISSING, BEFORE_HISTORY, UNSCORABLE = "committed", "missing", "before_history", "unscorable"
TREND_OFFSETS = (7, 14, 90, 180)  # short = m7 - m14, long = m90 - m180


@dataclass(frozen=True)
class Baseline:
    """The snapshot serving one configured offset, or why there is none."""

    offset: int
    target: date
    used: date | None
    status: str
    reason: str = ""
    tolerance: int = 0

    @property
    def placement(self) -> date:
        """Where a computed snapshot for this offset goes: the latest date its window allows."""
        return self.target + timedelta(days=self.tolerance)

    def days_elapsed(self, as_of: date) -> int:
        """True days between the snapshot used and `as_of`."""
        if self.used is None:
            raise ValueError(f"baseline {self.offset} has no snapshot")
        return (as_of - self.used).days


def plan_baselines(
    as_of: date,
    offsets: Iterable[int],
    committed: Iterable[date],
    *,
    tolerance_days: int,
    tolerance_fraction: float = 0.0,
    first_order: date | None = None,
) -> list[Baseline]:
    """One Baseline per distinct offset, smallest offset first."""
    if tolerance_days < 0 or tolerance_fraction < 0:
        raise ValueError(f"drift tolerances must be >= 0, got {tolerance_days} days and {tolerance_fraction}")
    available = sorted(d for d in set(committed) if d < as_of)
    taken: set[date] = set()
    out = []
    for offset in sorted({int(o) for o in offsets}):
        if offset <= 0:
            raise ValueError(f"baseline offsets must be positive day counts, got {offset}")
        target = as_of - timedelta(days=offset)
        tol = min(max(tolerance_days, int(tolerance_fraction * offset)), offset // 2)
        if first_order is not None and target + timedelta(days=tol) <= first_order:
            reason = f"{target} is not after the source's first order ({first_order}): no customer existed yet"
            out.append(Baseline(offset, target, None, BEFORE_HISTORY, reason, tol))
            continue
        near = [d for d in available if d not in taken and abs((d - target).days) <= tol]
        if first_order is not None:
            near = [d for d in near if d > first_order]
        if near:
            used = min(near, key=lambda d: (abs((d - target).days), d))
            taken.add(used)
            out.append(Baseline(offset, target, used, COMMITTED, tolerance=tol))
        else:
            reason = f"no committed snapshot within {tol} day(s) of {target}"
            out.append(Baseline(offset, target, None, MISSING, reason, tol))
    return out


def to_compute(plan: Sequence[Baseline]) -> list[date]:
    """The dates whose snapshots must be computed for the missing baselines, newest first."""
    return sorted({b.placement for b in plan if b.status == MISSING}, reverse=True)


def resolved(
    plan: Sequence[Baseline], computed: Iterable[date], failed: Mapping[date, str] | None = None
) -> list[Baseline]:
    """The plan after the snapshots in `computed` were written (and those in `failed` could not be)."""
    done, failed = set(computed), dict(failed or {})
    out = []
    for b in plan:
        if b.status == MISSING and b.placement in done:
            b = Baseline(b.offset, b.target, b.placement, COMMITTED, tolerance=b.tolerance)
        elif b.status == MISSING and b.placement in failed:
            b = Baseline(b.offset, b.target, None, UNSCORABLE, failed[b.placement], b.tolerance)
        out.append(b)
    return out


def trend_dates(plan: Sequence[Baseline]) -> dict[int, date] | None:
    """The snapshots of the trend's four offsets, or None unless all four are served."""
    used = {b.offset: b.used for b in plan if b.used is not None}
    if not all(o in used for o in TREND_OFFSETS):
        return None
    return {o: d for o, d in used.items() if o in TREND_OFFSETS and d is not None}
