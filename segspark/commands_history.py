"""The history subcommands: snapshot, backfill and drift (SPEC section 7)."""

from __future__ import annotations

import argparse
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

from pyspark.sql.utils import is_remote

from segspark.commands import _as_of_arg, _single_step, _source_arg, do_features, do_score, resolve_as_of
from segspark.config import Config
from segspark.context import RunContext
from segspark.exc import ConfigError
from segspark.runlog import step

log = logging.getLogger(__name__)


def add_snapshot_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark snapshot` and `segspark backfill`."""
    _source_arg(p)
    _as_of_arg(p)
    p.add_argument("--model", help="model directory (default: the newest model in the warehouse)")


def add_backfill_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark backfill`."""
    add_snapshot_args(p)
    p.add_argument("--offsets", help="comma-separated days before --as-of (default: history.backfill_offsets)")


def add_drift_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark drift`."""
    p.add_argument("--as-of", dest="as_of", help="the snapshot to compare with its baselines (default: run.as_of)")


def _required_as_of(ctx: RunContext, value: str | None, command: str) -> date:
    day = resolve_as_of(ctx, value)
    if day is None:
        raise ConfigError(f"{command} needs --as-of (or run.as_of)")
    return day


def do_snapshot(ctx: RunContext, day: date, model: str | None, label: str = "") -> str:
    """Features and profiles of one date; return the profiles partition (summary entries suffixed `label`)."""
    do_features(ctx, day, key=f"features{label}", verbose=not label)
    return do_score(ctx, day, model, key=f"score{label}")


def do_backfill(ctx: RunContext, as_of: date, model: str | None, offsets: list[int], skip: set[date]) -> list[str]:
    """Snapshots of as_of and each offset before it (except dates in `skip`); return the partitions written.

    `history.backfill_workers` snapshots run at once, each in its own thread (Spark runs the jobs of
    several threads side by side). One snapshot is a chain of short jobs separated by driver work,
    so a second one fills the cores the first leaves idle. Each date commits its own partitions; if
    one fails, no new date starts, the running ones finish and commit, and its error is raised.
    """
    from segspark.history.step import backfill_dates

    days = [d for d in backfill_dates(as_of, offsets) if d not in skip]
    workers = int(ctx.config.get("history.backfill_workers"))
    if workers < 1:
        raise ConfigError(f"history.backfill_workers must be at least 1, got {workers}")
    if workers > 1 and is_remote():
        # Spark Connect keeps the active session per thread (as for the fit's axes): one date at a time.
        log.info("Spark Connect: backfill dates run one after another")
        workers = 1
    ctx.summary.setdefault("as_of", as_of.isoformat())

    failing = threading.Event()

    def one(i: int, day: date) -> str | None:
        if failing.is_set():
            return None  # another date failed: start nothing new
        started = time.perf_counter()
        # One write per line (print writes the newline separately): two dates' threads print side by side.
        print(f"[backfill {i}/{len(days)}] snapshot {day}\n", end="", flush=True)
        try:
            path = do_snapshot(ctx, day, model, label=f"@{day}")
        except BaseException:
            failing.set()
            raise
        print(f"[backfill {i}/{len(days)}] {day} done in {time.perf_counter() - started:.1f}s\n", end="", flush=True)
        return path

    with step("backfill", ctx.summary) as info:
        # Newest (largest) dates are submitted first, so the short old ones fill in at the end.
        with ThreadPoolExecutor(max_workers=min(workers, max(1, len(days))), thread_name_prefix="backfill") as pool:
            futures = {pool.submit(one, i, day): day for i, day in enumerate(days, start=1)}
        written: dict[date, str] = {}
        failed = []
        for future, day in futures.items():
            err = future.exception()
            if err is not None:
                failed.append((day, err))
            elif (path := future.result()) is not None:
                written[day] = path
        info["dates"] = [d.isoformat() for d in days]
        info["workers"] = workers
        if failed:
            day, err = failed[0]
            done = ", ".join(d.isoformat() for d in sorted(written)) or "none"
            log.error("backfill of %s failed; dates committed: %s", day, done)
            raise err
    return [written[d] for d in days]


def print_drift_summary(summary: dict[str, Any]) -> None:
    """Counts per alert level, top migrations and high churn risks, per baseline."""
    for base, entry in sorted(summary.get("baselines", {}).items(), reverse=True):
        alerts = ", ".join(f"{k} {v:,}" for k, v in sorted(entry["alerts"].items()))
        print(f"  vs {base}: {entry['customers']:,} customers; {alerts}; migrated {entry['migrated']:,}; "
              f"churn risk HIGH {entry['churn'].get('HIGH', 0):,}")  # fmt: skip
        for move in entry.get("top_moves", []):
            print(f"      {move['customers']:>6,}  {move['axis']}: {move['from']} -> {move['to']}")


def do_drift(ctx: RunContext, as_of: date) -> str:
    """Drift of as_of against its committed baselines; print the summary; return the partition."""
    from segspark.history.step import run_drift

    with step("drift", ctx.summary) as info:
        result = run_drift(ctx.spark, root=ctx.root, as_of=as_of, cfg=ctx.config.section("drift"), run_id=ctx.run_id)
        info.update(baselines=result.baselines, rows=result.commit.row_count, summary=result.summary)
    print(f"drift as of {as_of} against {len(result.baselines)} baseline(s): {result.commit.row_count:,} rows")
    print_drift_summary(result.summary)
    return f"{ctx.root}/drift/snapshot_date={as_of}"


def _offsets(ctx: RunContext, text: str | None) -> list[int]:
    if text is None:
        return [int(o) for o in ctx.config.get("history.backfill_offsets")]
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--offsets must be comma-separated day counts, got {text!r}") from None


def snapshot(config: Config, args: argparse.Namespace) -> int:
    """`segspark snapshot`."""

    def action(ctx: RunContext) -> list[str]:
        return [f"profiles: {do_snapshot(ctx, _required_as_of(ctx, args.as_of, 'snapshot'), args.model)}"]

    return _single_step(config, args.source, action)


def backfill(config: Config, args: argparse.Namespace) -> int:
    """`segspark backfill`."""

    def action(ctx: RunContext) -> list[str]:
        day = _required_as_of(ctx, args.as_of, "backfill")
        return [f"profiles: {p}" for p in do_backfill(ctx, day, args.model, _offsets(ctx, args.offsets), set())]

    return _single_step(config, args.source, action)


def drift(config: Config, args: argparse.Namespace) -> int:
    """`segspark drift`."""

    def action(ctx: RunContext) -> list[str]:
        return [f"drift: {do_drift(ctx, _required_as_of(ctx, args.as_of, 'drift'))}"]

    return _single_step(config, None, action)
