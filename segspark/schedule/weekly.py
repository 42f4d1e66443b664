"""`segspark weekly --as-of D`: one idempotent scheduled run (SPEC section 7, operation on a schedule).

In order: ingest the new deliveries (appended through the ledger), the snapshot
of D with the current model, the refit policy (refit on D, keeping segment ids,
and rescore D when it says so), the baselines drift needs that no committed
snapshot serves (computed from order history), drift, the report, and last the
customer_state partition of D, whose commit marks the week complete.

A week already complete with nothing new delivered does nothing (no Spark
session starts); `force` recomputes it, giving the same tables. Catch-up runs
every missed date, `schedule.cadence_days` apart, oldest first.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from pyspark.sql import DataFrame

from segspark.context import RunContext
from segspark.exc import MissingInputError
from segspark.history.baselines import Baseline, resolved, to_compute
from segspark.history.step import DriftResult, drift_plan
from segspark.ingest.ledger import InputFile, describe_input
from segspark.ingest.validate import IngestReport
from segspark.model.manifest import Manifest, load_manifest
from segspark.paths import is_local, local_path
from segspark.render import dates_text, drift_lines, features_lines, model_lines
from segspark.schedule.policy import ModelHealth, RefitPolicy, model_health, refit_reasons
from segspark.score.step import PROFILES
from segspark.snapshots import backfill_step
from segspark.steps import (
    ReportResult,
    drift_step,
    features_step,
    first_order_date,
    fit_step,
    newest_model,
    report_step,
    score_step,
    state_step,
    tickets_step,
    unserved,
    validate_step,
)
from segspark.tables import committed, read_partitions

STATE = "customer_state"


@dataclass
class WeekResult:
    """What one scheduled run did."""

    as_of: date
    complete_already: bool = False
    ingested: list[IngestReport] = field(default_factory=list)
    model_version: str = ""
    refit_reasons: list[str] = field(default_factory=list)
    health: ModelHealth | None = None
    baselines_computed: list[date] = field(default_factory=list)
    drift: DriftResult | None = None
    drift_skipped: str = ""
    report: ReportResult | None = None
    seconds: float = 0.0


def inbox_inputs(inbox: str | None) -> list[str]:
    """Every delivery in the inbox directory (a file or a sub-directory each), in name order."""
    if not inbox:
        return []
    if not is_local(inbox):
        raise MissingInputError(f"schedule.inbox {inbox} must be a local or mounted path; pass --input URI instead")
    base = local_path(inbox)
    if not base.is_dir():
        raise MissingInputError(f"schedule.inbox {inbox} is not a directory")
    return [str(p) for p in sorted(base.iterdir()) if not p.name.startswith((".", "_"))]


def week_complete(ctx: RunContext, as_of: date) -> bool:
    """Whether the customer_state partition of `as_of` (the last write of a week) is committed."""
    return as_of.isoformat() in committed(ctx._spark, root=ctx.root, table=STATE, key="snapshot_date")


def new_inputs(ctx: RunContext, inputs: Sequence[str]) -> list[InputFile]:
    """The inputs whose content the source's ledger does not hold yet (local files need no Spark)."""
    orders = committed(ctx._spark, root=ctx.root, table="orders", key="source").get(ctx.mapping.name)
    known = orders.fingerprints() if orders else {}
    spark = None if all(is_local(p) for p in inputs) else ctx.spark
    return [item for item in (describe_input(spark, p) for p in inputs) if item.fingerprint not in known]


def run_week(ctx: RunContext, as_of: date, *, inputs: Sequence[str] = (), force: bool = False) -> WeekResult:
    """One scheduled run for `as_of` (see the module docstring)."""
    started = time.perf_counter()
    result = WeekResult(as_of)
    fresh = new_inputs(ctx, inputs)
    if not force and not fresh and week_complete(ctx, as_of):
        result.complete_already = True
        ctx.say(f"week {as_of} is already complete and nothing new was delivered: nothing to do (--force redoes it)")
        return result
    ctx.say(f"[weekly {as_of}] ingest: {len(fresh)} new input(s) of {len(inputs)}")
    if not committed(ctx._spark, root=ctx.root, table="orders", key="source").get(ctx.mapping.name) and not fresh:
        ctx.say(f"  no orders yet for {ctx.mapping.name}: ingesting its mapping's source in full")
        result.ingested.append(validate_step(ctx, as_of=as_of))
    for item in fresh:
        result.ingested.append(validate_step(ctx, input_path=item.path, append=True, item=item, as_of=as_of))
    if fresh and ctx.mapping.tickets is not None:
        # The tickets export is read whole, as of this week (it is one current file, not deliveries).
        tickets_step(ctx, as_of)

    ctx.say(f"[weekly {as_of}] snapshot")
    features = features_step(ctx, as_of)
    for line in features_lines(features, detail=False):
        ctx.say(line)
    current_path = newest_model(ctx.root)
    model = load_manifest(current_path) if current_path else None
    if model is not None:
        score_step(ctx, as_of, model)
        if model.as_of != as_of.isoformat():  # a model fitted on D is never refitted again for D
            result.health = _health(ctx, as_of, model)
            result.refit_reasons = refit_reasons(result.health, RefitPolicy.from_config(ctx.config.section("schedule")))
    else:
        result.refit_reasons = ["no model in the warehouse yet"]
    if model is not None and not result.refit_reasons:
        ctx.say(f"[weekly {as_of}] model {model.model_version} kept: {_health_text(result.health)}")
    if result.refit_reasons:
        ctx.say(f"[weekly {as_of}] refit: {'; '.join(result.refit_reasons)}")
        fitted = fit_step(
            ctx,
            as_of,
            previous=current_path,
            skipped=features.plan.skipped,
            refit_reason=result.refit_reasons,
            dropped=features.plan.dropped,
        )
        model = fitted.manifest
        for line in model_lines(model, reported=features.plan.skipped):
            ctx.say(line)
        score_step(ctx, as_of, model, key="score (refitted)")
    assert model is not None
    result.model_version = model.model_version

    plan = _baselines(ctx, as_of, model, result)
    result.drift_skipped = unserved(ctx, plan) or ""
    if not result.drift_skipped:
        result.drift = drift_step(ctx, as_of, plan)
        for line in drift_lines(result.drift):
            ctx.say(line)
    else:
        ctx.say(f"[weekly {as_of}] drift skipped: {result.drift_skipped}")
    info = _schedule_info(result, plan)
    policy = RefitPolicy.from_config(ctx.config.section("schedule"))
    info["policy"] = (
        f"refit every {policy.every_weeks} weeks, on an axis's PSI above {policy.psi} or its silhouette "
        f"falling more than {policy.silhouette_drop} (0: off)"
    )
    result.report = report_step(ctx, as_of, model, schedule=info)
    ctx.say(f"report: {result.report.path}")
    state = state_step(ctx, as_of, with_drift=result.drift is not None)
    ctx.say(f"customer state as of {as_of}: {state.row_count:,} customers (week complete)")
    result.seconds = round(time.perf_counter() - started, 2)
    return result


def _health(ctx: RunContext, as_of: date, model: Manifest) -> ModelHealth:
    """The model's health on D's profiles, against its fit snapshot's when that is committed."""

    def profiles(day: str) -> DataFrame:
        return read_partitions(ctx.spark, root=ctx.root, table=PROFILES, key="snapshot_date", values=[day])

    snapshots = committed(ctx.spark, root=ctx.root, table=PROFILES, key="snapshot_date")
    fit = profiles(model.as_of) if model.as_of in snapshots else None
    return model_health(profiles(as_of.isoformat()), fit, model, as_of)


def _health_text(health: ModelHealth | None) -> str:
    """One line on why no refit trigger fired."""
    if health is None:
        return "it was fitted on this date"
    parts = [f"{health.weeks_since_fit:.1f} weeks old"]
    if health.psi:
        axis, value = max(health.psi.items(), key=lambda kv: kv[1])
        parts.append(f"largest PSI {value:.3f} ({axis})")
    drops = {a: health.silhouette_fit[a] - v for a, v in health.silhouette_now.items() if a in health.silhouette_fit}
    if drops:
        axis, drop = max(drops.items(), key=lambda kv: kv[1])
        parts.append(f"largest silhouette drop {drop:.3f} ({axis})")
    return ", ".join(parts + health.notes)


def _baselines(ctx: RunContext, as_of: date, model: Manifest, result: WeekResult) -> list[Baseline]:
    """The drift plan, after computing (with `model`) every baseline no committed snapshot serves."""
    cfg = ctx.config.section("drift")
    plan = drift_plan(ctx.spark, root=ctx.root, as_of=as_of, cfg=cfg, first_order=first_order_date(ctx))
    missing = to_compute(plan)
    ctx.say(f"[weekly {as_of}] baselines: {len(plan) - len(missing)} served, computing {dates_text(missing)}")
    if missing:
        unscorable: dict[date, str] = {}
        written = backfill_step(ctx, missing, model, key="baselines", unscorable=unscorable)
        result.baselines_computed = list(written)
        plan = resolved(plan, written, unscorable)
    return plan


def _schedule_info(result: WeekResult, plan: Sequence[Baseline]) -> dict[str, object]:
    """What the report shows of a scheduled run: inputs, refit decision and baselines."""
    return {
        "as_of": result.as_of.isoformat(),
        "inputs": [
            {
                "input": r.input,
                "valid": r.valid,
                "rows_read": r.rows_read,
                "already_ingested_by": r.already_ingested_by,
                "replaced": r.replaced,
            }
            for r in result.ingested
        ],
        "refit": result.refit_reasons,
        "health": None
        if result.health is None
        else {
            "weeks_since_fit": round(result.health.weeks_since_fit, 1),
            "psi": result.health.psi,
            "silhouette_now": result.health.silhouette_now,
            "silhouette_fit": result.health.silhouette_fit,
            "notes": result.health.notes,
        },
        "baselines": [
            {
                "offset": b.offset,
                "target": b.target.isoformat(),
                "used": b.used.isoformat() if b.used else None,
                "days": (result.as_of - b.used).days if b.used else None,
                "reason": b.reason,
            }
            for b in plan
        ],
        "computed": [d.isoformat() for d in result.baselines_computed],
        "drift_skipped": result.drift_skipped,
    }


def missed_dates(complete: Sequence[date], as_of: date, cadence_days: int) -> list[date]:
    """`as_of` and every date `cadence_days` apart before it and after the newest complete week before it,
    oldest first (only `as_of` when no earlier week was completed)."""
    if cadence_days < 1:
        raise ValueError(f"schedule.cadence_days must be at least 1, got {cadence_days}")
    last = max((d for d in complete if d < as_of), default=None)
    if last is None:
        return [as_of]
    days = []
    day = as_of
    while day > last:
        days.append(day)
        day -= timedelta(days=cadence_days)
    return sorted(days)


def catch_up_dates(ctx: RunContext, as_of: date) -> list[date]:
    """The dates `--catch-up` runs: `missed_dates` over the committed customer_state partitions."""
    done = [date.fromisoformat(d) for d in committed(ctx._spark, root=ctx.root, table=STATE, key="snapshot_date")]
    return missed_dates(done, as_of, int(ctx.config.get("schedule.cadence_days")))
