"""`segspark run`: every step in order on one source, with a progress line per step and a final summary.

Each step commits its own tables (SPEC section 10), so a failure names the step and lists what was
already committed; re-running redoes only what is needed to overwrite those partitions safely.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from segspark.config import Config
from segspark.context import RunContext, make_context, parse_date
from segspark.exc import SegsparkError
from segspark.features.step import FeatureResult
from segspark.history.baselines import UNSCORABLE
from segspark.history.step import backfill_dates, drift_plan
from segspark.render import drift_lines, features_lines, model_lines, score_lines
from segspark.runlog import write_summary
from segspark.snapshots import backfill_step
from segspark.steps import (
    FitResult,
    drift_step,
    features_step,
    first_order_date,
    fit_step,
    newest_model,
    report_step,
    score_step,
    state_step,
    unserved,
    validate_step,
)

log = logging.getLogger("segspark")

STEPS = ("validate", "features", "fit", "score", "backfill", "drift", "report")


class StepFailed(SegsparkError):
    """A pipeline step failed; the message names it and what earlier steps committed."""


@dataclass
class PipelineResult:
    """What a run produced."""

    run_id: str
    root: str
    as_of: date | None = None
    model: str | None = None
    report: str | None = None
    summary_path: str | None = None
    committed: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def drift_by_baseline(self) -> dict[str, dict[str, Any]]:
        """Per baseline date: customers, alert and churn-risk counts, migrations, the top segment moves
        (empty when the run computed no drift)."""
        drift = self.summary.get("steps", {}).get("drift", {})
        return dict(drift.get("summary", {}).get("baselines", {}))


def run_pipeline(
    config: Config,
    *,
    source: str | None = None,
    as_of: str | None = None,
    input_path: str | None = None,
    previous_model: str | None = None,
    ctx: RunContext | None = None,
) -> PipelineResult:
    """validate -> features -> fit (+ naming) -> score -> backfill -> drift (+ customer_state) -> report.

    `as_of` defaults to run.as_of, else the day after the newest valid order. The previous model
    (whose segment ids and names matched segments keep) defaults to the newest in the warehouse.
    Progress goes to `ctx.say` (the `segspark` logger unless the caller gives a sink).
    """
    ctx = ctx or make_context(config, source)
    result = PipelineResult(ctx.run_id, ctx.root, summary=ctx.summary)
    ctx.say(f"segspark run {ctx.run_id}: source {ctx.mapping.name}, warehouse {ctx.root}")
    day: date | None = None
    model: FitResult | None = None
    computed: FeatureResult | None = None
    first: date | None = None
    unscorable: dict[date, str] = {}  # backfill dates whose features the model cannot score, with why
    skips: list[str] = []  # what the run skipped, with why, for the report

    def validate() -> list[str]:
        text = as_of or ctx.config.get("run.as_of")
        validate_step(ctx, input_path=input_path, as_of=parse_date(text, "--as-of") if text else None)
        tables = [f"orders/source={ctx.mapping.name}", f"rejects/source={ctx.mapping.name}"]
        if ctx.mapping.tickets is not None:
            tables += [f"tickets/source={ctx.mapping.name}", f"rejects/source={ctx.mapping.name}__tickets"]
        return tables

    def features() -> list[str]:
        nonlocal day, computed
        text = as_of or ctx.config.get("run.as_of")
        computed = features_step(ctx, parse_date(text, "--as-of") if text else None)
        day = computed.as_of
        for line in features_lines(computed):
            ctx.say(line)
        return [f"features/snapshot_date={day}"]

    def fit() -> list[str]:
        nonlocal model
        assert computed is not None
        model = fit_step(
            ctx,
            computed.as_of,
            previous=previous_model or newest_model(ctx.root),
            skipped=computed.plan.skipped,
            dropped=computed.plan.dropped,
        )
        for line in model_lines(model.manifest, reported=computed.plan.skipped):
            ctx.say(line)
        return [f"models/{model.manifest.model_version}"]

    def score() -> list[str]:
        assert day is not None and model is not None
        for line in score_lines(score_step(ctx, day, model.manifest)):
            ctx.say(line)
        return [f"customer_profiles/snapshot_date={day}"]

    def backfill() -> list[str]:
        nonlocal first
        assert day is not None and model is not None
        first = first_order_date(ctx)
        offsets = [int(o) for o in ctx.config.get("history.backfill_offsets")]
        days = [d for d in backfill_dates(day, offsets) if d != day]
        # A snapshot on or before the first order would hold no customer: skipped, with the reason.
        for d in (d for d in days if d <= first):
            ctx.say(f"  {d} skipped: not after the source's first order ({first})")
            skips.append(f"Backfill date {d} skipped: not after the source's first order ({first}).")
        ctx.summary["backfill_skipped"] = [d.isoformat() for d in days if d <= first]
        written = backfill_step(ctx, [d for d in days if d > first], model.manifest, unscorable=unscorable)
        ctx.summary["backfill_skipped"] += [d.isoformat() for d in unscorable]
        skips.extend(f"Backfill date {d} skipped: {why}." for d, why in sorted(unscorable.items()))
        return [f"customer_profiles/snapshot_date={d}" for d in written]

    def drift() -> list[str]:
        assert day is not None
        cfg = ctx.config.section("drift")
        plan = drift_plan(ctx.spark, root=ctx.root, as_of=day, cfg=cfg, first_order=first)
        plan = [
            replace(b, status=UNSCORABLE, reason=f"{b.target}: {unscorable[b.target]}")
            if b.used is None and b.target in unscorable
            else b
            for b in plan
        ]
        skips.extend(f"No {b.offset}-day baseline: {b.reason}." for b in plan if b.used is None and b.reason)
        skipped = unserved(ctx, plan)
        written = []
        if skipped is None:
            for line in drift_lines(drift_step(ctx, day, plan)):
                ctx.say(line)
            written = [f"drift/snapshot_date={day}", f"drift_population/snapshot_date={day}"]
        else:
            ctx.say(f"drift skipped: {skipped}")
            ctx.summary["drift_skipped"] = skipped
        state = state_step(ctx, day, with_drift=bool(written))
        ctx.say(f"customer state as of {day}: {state.row_count:,} customers")
        return [*written, f"customer_state/snapshot_date={day}"]

    def report() -> list[str]:
        assert day is not None and model is not None
        result.report = report_step(ctx, day, model.manifest, skips=skips).path
        ctx.say(f"report: {result.report}")
        return [result.report.removeprefix(ctx.root + "/")]

    actions: dict[str, Callable[[], list[str]]] = {
        "validate": validate,
        "features": features,
        "fit": fit,
        "score": score,
        "backfill": backfill,
        "drift": drift,
        "report": report,
    }
    started = time.perf_counter()
    try:
        for i, name in enumerate(STEPS, start=1):
            ctx.say(f"\n[{i}/{len(STEPS)}] {name}")
            try:
                result.committed += actions[name]()
            except Exception as err:
                done = ", ".join(result.committed) or "nothing"
                message = f"step {name} failed: {err}\n  already committed under {ctx.root}: {done}"
                log.error("%s", message)
                ctx.summary["failed_step"] = {"step": name, "error": str(err), "committed": list(result.committed)}
                if isinstance(err, SegsparkError):
                    raise StepFailed(message) from err
                raise
            info = ctx.summary.get("steps", {}).get(name, {})
            rows = info.get("rows")
            rows_text = f"{rows:,} rows" if isinstance(rows, int) else ""
            ctx.say(f"[{i}/{len(STEPS)}] {name} done: {rows_text:>16}  {info.get('seconds', 0.0):7.1f}s")
    finally:
        ctx.summary["seconds"] = round(time.perf_counter() - started, 2)
        result.summary_path = write_summary(ctx.root, ctx.run_id, ctx.summary)
    result.as_of, result.model = day, model.path if model else None
    for line in summary_lines(result):
        ctx.say(line)
    return result


def summary_lines(result: PipelineResult) -> list[str]:
    """The final summary: per step seconds and rows, then where everything is."""
    out = ["\nsteps:"]
    for name, info in result.summary.get("steps", {}).items():
        rows = info.get("rows")
        out.append(f"  {name:<22} {info['seconds']:>7.1f}s" + (f"  {rows:>10,} rows" if isinstance(rows, int) else ""))
    out.append(f"  {'total':<22} {result.summary.get('seconds', 0.0):>7.1f}s")
    out.append(f"\noutputs under {result.root}")
    if result.summary_path:
        out.append(f"run summary: {result.summary_path}")
    if result.summary.get("logs"):
        out.append(f"logs: {result.summary['logs']} (segspark.log; spark.log unless -v)")
    if result.report:
        out.append(f"report: {result.report}")
    return out
