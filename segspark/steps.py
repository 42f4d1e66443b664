"""The pipeline's steps, with typed inputs and frozen results.

`segspark run`, `segspark weekly` and the single-step commands compose these.
A step times itself into the run summary (`ctx.summary["steps"]`) and reports
progress through `ctx.say`; it never prints, and nothing here imports the CLI.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from segspark.context import RunContext, parse_instant
from segspark.exc import MissingInputError
from segspark.features.step import FeatureResult, run_features
from segspark.history.baselines import Baseline
from segspark.history.step import DriftResult, run_drift
from segspark.ingest.ledger import InputFile
from segspark.ingest.tickets import validate_tickets
from segspark.ingest.validate import IngestReport, validate
from segspark.model.manifest import Manifest, load_manifest, model_dir
from segspark.runlog import step
from segspark.score.step import ScoreResult, run_score
from segspark.tables import Commit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitResult:
    """A fitted and saved model."""

    manifest: Manifest
    path: str


@dataclass(frozen=True)
class ReportResult:
    """Where the HTML report went, and how many customers it covers."""

    path: str
    customers: int


# The cut-off of a run whose as_of is pinned: none. Lines after as_of never count as of as_of, so rejecting
# them as "future" would only make the tables depend on the day the run happens.
NO_CUTOFF = datetime(9999, 12, 31, 23, 59, 59)


def future_cutoff(ctx: RunContext, as_of: date | None) -> datetime | None:
    """ingest.max_order_ts when set; else no cut-off when as_of is pinned; else None (the moment ingestion runs,
    which keeps a garbage year-2099 line from becoming the newest order an unpinned as_of is derived from)."""
    explicit = parse_instant(ctx.config.get("ingest.max_order_ts"), "ingest.max_order_ts")
    if explicit is not None:
        return explicit
    return NO_CUTOFF if as_of is not None else None


def validate_step(
    ctx: RunContext,
    *,
    input_path: str | None = None,
    append: bool = False,
    item: InputFile | None = None,
    as_of: date | None = None,
) -> IngestReport:
    """Ingest the source (or one input appended through the ledger) into orders/ and rejects/; `item` is the
    input's ledger identity when the caller already computed it. `as_of`, when the run pins it, pins the
    future-timestamp cut-off too (`future_cutoff`)."""
    cfg = ctx.config
    key = "validate" if not append else f"ingest {input_path}"
    with step(key, ctx.summary) as info:
        report = validate(
            ctx.spark,
            ctx.mapping,
            root=ctx.root,
            run_id=ctx.run_id,
            max_malformed_fraction=float(cfg.get("ingest.max_malformed_fraction")),
            path=input_path,
            max_order_ts=future_cutoff(ctx, as_of),
            repartition=int(cfg.get("ingest.repartition")),
            append=append,
            item=item,
        )
        info.update(report.as_dict())
        info["rows"] = report.valid
    for line in report.lines():
        ctx.say(line)
    if ctx.mapping.tickets is not None and not append:
        tickets_step(ctx, as_of)
    return report


def tickets_step(ctx: RunContext, as_of: date | None = None) -> IngestReport | None:
    """Ingest the source's support tickets (the mapping's `tickets:` export, in full) into tickets/ and rejects/."""
    cfg = ctx.config
    with step("validate tickets", ctx.summary) as info:
        report = validate_tickets(
            ctx.spark,
            ctx.mapping,
            root=ctx.root,
            run_id=ctx.run_id,
            max_malformed_fraction=float(cfg.get("ingest.max_malformed_fraction")),
            max_ts=future_cutoff(ctx, as_of),
        )
        if report is not None:
            info.update(report.as_dict())
            info["rows"] = report.valid
    for line in report.lines() if report is not None else ():
        ctx.say(line)
    return report


def features_step(ctx: RunContext, as_of: date | None, *, key: str = "features") -> FeatureResult:
    """Features of every applicable axis as of a date (default: the day after the last order)."""
    with step(key, ctx.summary) as info:
        result = run_features(
            ctx.spark,
            root=ctx.root,
            mapping=ctx.mapping,
            as_of=as_of,
            axes_file=ctx.config.get("features.axes_file"),
            run_id=ctx.run_id,
        )
        info.update(as_of=result.as_of.isoformat(), axes=[a.name for a in result.plan.axes], rows=result.customers)
        info.update(skipped_axes=result.plan.skipped, dropped_features=result.plan.dropped)
    ctx.summary.setdefault("as_of", result.as_of.isoformat())
    return result


def fit_step(
    ctx: RunContext,
    as_of: date,
    *,
    previous: str | None,
    skipped: Mapping[str, str] | None = None,
    refit_reason: Sequence[str] = (),
    dropped: Mapping[str, str] | None = None,
) -> FitResult:
    """Fit and save a model on the committed features of `as_of` (axes `skipped` and features `dropped` when they
    were computed, with the reasons); matched segments keep `previous`'s ids and names."""
    from segspark.model.step import run_fit

    with step("fit", ctx.summary) as info:
        manifest, path = run_fit(
            ctx.spark,
            root=ctx.root,
            mapping=ctx.mapping,
            as_of=as_of.isoformat(),
            axes_file=ctx.config.get("features.axes_file"),
            cfg=ctx.config.section("fit"),
            previous=previous,
            skipped=skipped,
            naming=ctx.config.section("naming"),
            refit_reason=refit_reason,
            dropped=dropped,
        )
        info.update(skipped_axes=manifest.skipped_axes, dropped_features=manifest.dropped_features)
        observed = manifest.archetype_count or len(manifest.archetypes)
        info.update(model_version=manifest.model_version, model=path, archetypes=observed)
        info["k"] = {a: m.k for a, m in manifest.axes.items()}
    return FitResult(manifest, path)


def score_step(ctx: RunContext, as_of: date, model: Manifest, *, key: str = "score") -> ScoreResult:
    """Score the committed features of `as_of` into customer_profiles."""
    with step(key, ctx.summary) as info:
        result = run_score(
            ctx.spark, root=ctx.root, mapping=ctx.mapping, as_of=as_of, manifest=model, run_id=ctx.run_id
        )
        info.update(model_version=result.model_version, as_of=as_of.isoformat(), rows=result.commit.row_count)
    return result


def drift_step(ctx: RunContext, as_of: date, plan: Sequence[Baseline] | None = None) -> DriftResult:
    """Drift of `as_of` against the baselines of `plan` (default: the committed snapshots within tolerance)."""
    with step("drift", ctx.summary) as info:
        result = run_drift(
            ctx.spark, root=ctx.root, as_of=as_of, cfg=ctx.config.section("drift"), run_id=ctx.run_id, plan=plan
        )
        info.update(baselines=result.baselines, rows=result.commit.row_count, summary=result.summary)
        info["skipped_baselines"] = {str(o): r for o, r in result.skipped().items()}
        info["trend_dates"] = result.trend_dates
    return result


def unserved(ctx: RunContext, plan: Sequence[Baseline]) -> str | None:
    """Why drift cannot run (no configured offset has a baseline), or None when it can."""
    wanted = [b for b in plan if b.offset in {int(o) for o in ctx.config.get("drift.baselines")}]
    if any(b.used is not None for b in wanted):
        return None
    return "no baseline exists (" + "; ".join(f"{b.offset} days: {b.reason}" for b in wanted) + ")"


def state_step(ctx: RunContext, as_of: date, *, with_drift: bool = True) -> Commit:
    """customer_state of `as_of` from its profiles and drift (SPEC section 7); without drift (no baseline
    existed) its drift columns are null."""
    from segspark.history.state import customer_state
    from segspark.score.step import PROFILES
    from segspark.tables import read_partitions, write_partition

    day = as_of.isoformat()
    with step("state", ctx.summary) as info:
        profiles = read_partitions(ctx.spark, root=ctx.root, table=PROFILES, key="snapshot_date", values=[day])
        drift = (
            read_partitions(ctx.spark, root=ctx.root, table="drift", key="snapshot_date", values=[day])
            if with_drift
            else None
        )
        state = customer_state(profiles.drop("snapshot_date"), drift.drop("snapshot_date") if drift else None)
        commit = write_partition(
            state, root=ctx.root, table="customer_state", key="snapshot_date", value=day, run_id=ctx.run_id
        )
        info["rows"] = commit.row_count
    return commit


def report_step(
    ctx: RunContext,
    as_of: date,
    model: Manifest,
    *,
    schedule: Mapping[str, Any] | None = None,
    skips: Sequence[str] = (),
) -> ReportResult:
    """The HTML report of `as_of` (with the scheduled run's decisions, and what the run skipped and why, when
    given)."""
    from segspark.report.step import run_report

    cfg = {
        "min_silhouette": ctx.config.get("fit.min_silhouette"),
        "frequency_axis": ctx.config.get("drift.frequency_axis"),
        "baselines": ctx.config.get("drift.baselines"),
        "schedule": dict(schedule or {}),
        "skips": list(skips),
    }
    steps = dict(ctx.summary.get("steps", {}))
    with step("report", ctx.summary) as info:
        path, data = run_report(
            ctx.spark, root=ctx.root, as_of=as_of, manifest=model, run_id=ctx.run_id, cfg=cfg, steps=steps
        )
        info.update(path=path, rows=data.customers)
    return ReportResult(path, data.customers)


def first_order_date(ctx: RunContext) -> date:
    """The date (UTC) of the source's first valid order line (one aggregate over the orders)."""
    from pyspark.sql import functions as F

    from segspark.tables import read_partitions

    orders = read_partitions(ctx.spark, root=ctx.root, table="orders", key="source", values=[ctx.mapping.name])
    row = orders.agg(F.min(F.to_date("order_ts")).alias("first")).first()
    if row is None or row["first"] is None:
        raise MissingInputError(f"source {ctx.mapping.name} has no valid order line")
    first: date = row["first"]
    return first


def newest_model(root: str) -> str | None:
    """The newest model directory under the warehouse, if any (so later runs keep segment ids)."""
    try:
        return model_dir(root, load_manifest(root).model_version)
    except MissingInputError:
        return None
