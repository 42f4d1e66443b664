"""Snapshots of past dates: one date's features and profiles with a given model, and the backfill of many
dates at once, so drift has baselines from the first run."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

from pyspark.sql.utils import is_remote

from segspark.context import RunContext
from segspark.exc import ConfigError, FeatureMismatchError
from segspark.features.step import FeatureResult
from segspark.model.manifest import Manifest
from segspark.runlog import step
from segspark.score.step import ScoreResult
from segspark.steps import features_step, score_step

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SnapshotResult:
    """Features and profiles of one date."""

    features: FeatureResult
    score: ScoreResult


def snapshot_step(ctx: RunContext, as_of: date, model: Manifest, *, label: str = "") -> SnapshotResult:
    """Features and profiles of one date (summary entries suffixed `label`)."""
    features = features_step(ctx, as_of, key=f"features{label}")
    return SnapshotResult(features, score_step(ctx, as_of, model, key=f"score{label}"))


def backfill_step(
    ctx: RunContext,
    days: Sequence[date],
    model: Manifest,
    *,
    key: str = "backfill",
    unscorable: dict[date, str] | None = None,
) -> dict[date, SnapshotResult]:
    """Snapshots of `days` from order history with one model; return them by date.

    With `unscorable` (a dict to fill), a date whose features lack some of the model's columns (an
    axis's inputs did not exist yet then) is skipped and its reason recorded there, instead of failing.

    `history.backfill_workers` snapshots run at once, each in its own thread (Spark runs the jobs of
    several threads side by side). One snapshot is a chain of short jobs separated by driver work,
    so a second one fills the cores the first leaves idle. Each date commits its own partitions; if
    one fails, no new date starts, the running ones finish and commit, and its error is raised.
    """
    workers = int(ctx.config.get("history.backfill_workers"))
    if workers < 1:
        raise ConfigError(f"history.backfill_workers must be at least 1, got {workers}")
    if workers > 1 and is_remote():
        # Spark Connect keeps the active session per thread (as for the fit's axes): one date at a time.
        log.info("Spark Connect: backfill dates run one after another")
        workers = 1
    failing = threading.Event()

    def one(i: int, day: date) -> SnapshotResult | None:
        if failing.is_set():
            return None  # another date failed: start nothing new
        started = time.perf_counter()
        ctx.say(f"[{key} {i}/{len(days)}] snapshot {day}")
        try:
            result = snapshot_step(ctx, day, model, label=f"@{day}")
        except FeatureMismatchError as err:
            if unscorable is None:
                failing.set()
                raise
            axes = sorted({c.split("__")[0] for c in err.missing})
            unscorable[day] = f"model {model.model_version} scores axes the source had no input for yet: {axes}"
            ctx.say(f"[{key} {i}/{len(days)}] {day} skipped: the model's axes need inputs the source had not yet")
            return None
        except BaseException:
            failing.set()
            raise
        ctx.say(f"[{key} {i}/{len(days)}] {day} done in {time.perf_counter() - started:.1f}s")
        return result

    with step(key, ctx.summary) as info:
        # Newest (largest) dates are submitted first, so the short old ones fill in at the end.
        with ThreadPoolExecutor(max_workers=min(workers, max(1, len(days))), thread_name_prefix="backfill") as pool:
            futures = {pool.submit(one, i, day): day for i, day in enumerate(days, start=1)}
        written: dict[date, SnapshotResult] = {}
        failed = []
        for future, day in futures.items():
            err = future.exception()
            if err is not None:
                failed.append((day, err))
            elif (result := future.result()) is not None:
                written[day] = result
        info.update(dates=[d.isoformat() for d in days], workers=workers)
        if failed:
            day, err = failed[0]
            done = ", ".join(d.isoformat() for d in sorted(written)) or "none"
            log.error("%s of %s failed; dates committed: %s", key, day, done)
            raise err
    return {d: written[d] for d in days if d in written}
