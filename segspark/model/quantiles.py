"""Exact quantiles of many columns in two aggregate passes.

Spark's exact `percentile` (behind `F.median`) keeps a map of every distinct
value per column, so on a million customers it costs seconds per column. Here
a first pass brackets each wanted quantile between two approximate quantiles
(`percentile_approx`, whose rank error is at most n / accuracy), and a second
pass counts the values below the bracket and collects the few values inside it.
The exact answer is then read off on the driver, with Spark's interpolation
(rank p * (n - 1), linear between the two neighbouring values). A bracket that
does not hold the wanted ranks (it should not happen) falls back to Spark's
exact `percentile` for that column.

What the second pass brings to the driver is bounded whatever the number of
rows: each bracket holds at most about 6n / accuracy values (the two edges' rank
errors and the margin between them), so the accuracy grows with n to keep that
under COLLECT_LIMIT. The sketches of the first pass grow with the accuracy, not
with n.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

ACCURACY = 10_000  # at least this; more on large inputs (see accuracy_for)
COLLECT_LIMIT = 20_000  # values brought to the driver per bracket, at most (ties at the edges are only counted)


def accuracy_for(rows: int) -> int:
    """The percentile_approx accuracy that keeps a bracket of `rows` values within COLLECT_LIMIT values."""
    return max(ACCURACY, math.ceil(6 * rows / COLLECT_LIMIT))


@dataclass(frozen=True)
class _Bracket:
    """Counts of one column around one approximate bracket [low, high]."""

    below: int
    at_low: int
    inside: list[float]  # sorted values strictly between low and high
    at_high: int
    low: float
    high: float
    before: float | None = None  # the largest value below low (rank below - 1)
    after: float | None = None  # the smallest value above high

    def value_at(self, rank: int) -> float | None:
        """The value of the given 0-based rank, or None when the rank lies outside the bracket and its neighbours.

        The neighbours matter on small columns: there a bracket can be a single
        rank wide while the interpolation needs the ranks on both sides of p * (n - 1).
        """
        r = rank - self.below
        if r == -1:
            return self.before
        if r < 0:
            return None
        if r < self.at_low:
            return self.low
        r -= self.at_low
        if r < len(self.inside):
            return self.inside[r]
        r -= len(self.inside)
        top = self.at_high if self.high != self.low else 0
        if r < top:
            return self.high
        return self.after if r == top else None


def interpolate(p: float, n: int, value_at: Callable[[int], float | None]) -> float | None:
    """Spark's percentile: position p * (n - 1), linear between the values at its floor and ceiling ranks."""
    position = p * (n - 1)
    lower, higher = math.floor(position), math.ceil(position)
    lo = value_at(lower)
    hi = lo if higher == lower else value_at(higher)
    if lo is None or hi is None:
        return None
    if higher == lower:
        return float(lo)
    return float(lo + (hi - lo) * (position - lower))  # Spark's own arithmetic, to the last bit


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def exact_quantiles(
    df: DataFrame, wanted: Mapping[str, Sequence[float]], rows: int | None = None
) -> dict[str, list[float | None]]:
    """Per column, the exact quantiles asked for (None for a column without values), as `F.percentile` gives.

    `rows` is the number of rows of `df` when the caller knows it (else it is counted): it sets the accuracy.
    """
    if not wanted:
        return {}
    accuracy = accuracy_for(rows if rows is not None else df.count())
    margin = 2.0 / accuracy
    first = []
    for i, (col, probs) in enumerate(wanted.items()):
        first.append(F.count(col).alias(f"n{i}"))
        for j, p in enumerate(probs):
            edges = [max(0.0, p - margin), min(1.0, p + margin)]
            first.append(F.percentile_approx(col, edges, accuracy).alias(f"b{i}_{j}"))
    row1 = df.agg(*first).first()
    assert row1 is not None
    second = []
    plan: list[tuple[int, int, float, float]] = []
    for i, (col, probs) in enumerate(wanted.items()):
        if not row1[f"n{i}"]:
            continue
        c = F.col(col)
        for j in range(len(probs)):
            low, high = (float(v) for v in row1[f"b{i}_{j}"])
            plan.append((i, j, low, high))
            second += [
                F.count_if(c < low).alias(f"below{i}_{j}"),
                F.count_if(c == low).alias(f"low{i}_{j}"),
                F.count_if(c == high).alias(f"high{i}_{j}"),
                F.sort_array(F.collect_list(F.when((c > low) & (c < high), c))).alias(f"in{i}_{j}"),
                F.max(F.when(c < low, c)).alias(f"before{i}_{j}"),
                F.min(F.when(c > high, c)).alias(f"after{i}_{j}"),
            ]
    row2 = df.agg(*second).first() if second else None
    out: dict[str, list[float | None]] = {col: [None] * len(probs) for col, probs in wanted.items()}
    columns = list(wanted)
    failed: set[str] = set()
    for i, j, low, high in plan:
        assert row2 is not None
        col = columns[i]
        bracket = _Bracket(
            row2[f"below{i}_{j}"],
            row2[f"low{i}_{j}"],
            [float(v) for v in row2[f"in{i}_{j}"]],
            row2[f"high{i}_{j}"],
            low,
            high,
            _float(row2[f"before{i}_{j}"]),
            _float(row2[f"after{i}_{j}"]),
        )
        value = interpolate(wanted[col][j], int(row1[f"n{i}"]), bracket.value_at)
        if value is None:
            failed.add(col)
        out[col][j] = value
    if failed:
        out.update(spark_percentiles(df, {c: wanted[c] for c in sorted(failed)}))
    return out


def spark_percentiles(df: DataFrame, wanted: Mapping[str, Sequence[float]]) -> dict[str, list[float | None]]:
    """Spark's own exact percentiles (one pass, a map of every distinct value per column)."""
    row = df.agg(*[F.percentile(c, list(p)).alias(c) for c, p in wanted.items()]).first()
    assert row is not None
    return {c: [float(v) for v in row[c]] if row[c] is not None else [None] * len(p) for c, p in wanted.items()}
