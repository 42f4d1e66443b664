"""The history subcommands: snapshot, backfill, drift and the scheduled `weekly` (SPEC section 7)."""

from __future__ import annotations

import argparse
from datetime import date

from segspark.command_base import as_of_arg, required_as_of, single_step, source_arg
from segspark.config import Config
from segspark.context import RunContext, console, make_context
from segspark.exc import ConfigError
from segspark.history.step import backfill_dates
from segspark.model.manifest import load_manifest
from segspark.render import drift_lines, features_lines, score_lines
from segspark.runlog import write_summary
from segspark.snapshots import backfill_step, snapshot_step
from segspark.steps import drift_step


def add_snapshot_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark snapshot`."""
    source_arg(p)
    as_of_arg(p, required=True)
    p.add_argument("--model", help="model directory (default: the newest model in the warehouse)")


def add_backfill_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark backfill`."""
    add_snapshot_args(p)
    p.add_argument("--offsets", help="comma-separated days before --as-of (default: history.backfill_offsets)")


def add_drift_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark drift`."""
    as_of_arg(p, required=True)


def add_weekly_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark weekly`."""
    source_arg(p)
    as_of_arg(p, required=True)
    p.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="PATH",
        help="a new order delivery to append (repeatable; default: every input in schedule.inbox)",
    )
    p.add_argument(
        "--catch-up",
        dest="catch_up",
        action="store_true",
        help="also run every missed scheduled date since the last complete week, oldest first",
    )
    p.add_argument("--force", action="store_true", help="recompute a week that is already complete")


def snapshot(config: Config, args: argparse.Namespace) -> int:
    """`segspark snapshot`: features and profiles of one date."""

    def action(ctx: RunContext) -> list[str]:
        day = required_as_of(ctx, args.as_of, "snapshot")
        result = snapshot_step(ctx, day, load_manifest(args.model or ctx.root))
        return [
            *features_lines(result.features),
            *score_lines(result.score),
            f"profiles: {ctx.root}/customer_profiles/snapshot_date={day}",
        ]

    return single_step(config, args.source, action)


def _offsets(ctx: RunContext, text: str | None) -> list[int]:
    if text is None:
        return [int(o) for o in ctx.config.get("history.backfill_offsets")]
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--offsets must be comma-separated day counts, got {text!r}") from None


def backfill(config: Config, args: argparse.Namespace) -> int:
    """`segspark backfill`: snapshots of D and the offsets before it, with one model."""

    def action(ctx: RunContext) -> list[str]:
        day = required_as_of(ctx, args.as_of, "backfill")
        days = backfill_dates(day, _offsets(ctx, args.offsets))
        written = backfill_step(ctx, days, load_manifest(args.model or ctx.root))
        return [f"profiles: {ctx.root}/customer_profiles/snapshot_date={d}" for d in written]

    return single_step(config, args.source, action)


def drift(config: Config, args: argparse.Namespace) -> int:
    """`segspark drift`: D against the committed snapshots serving its baselines."""

    def action(ctx: RunContext) -> list[str]:
        result = drift_step(ctx, required_as_of(ctx, args.as_of, "drift"))
        return [*drift_lines(result), f"drift: {ctx.root}/drift/snapshot_date={result.as_of}"]

    return single_step(config, None, action)


def weekly(config: Config, args: argparse.Namespace) -> int:
    """`segspark weekly`: the scheduled run of one date (and, with --catch-up, of every missed one)."""
    from segspark.schedule.weekly import catch_up_dates, inbox_inputs, run_week

    ctx = make_context(config, args.source, say=console)
    as_of = required_as_of(ctx, args.as_of, "weekly")
    inputs = list(args.input) or inbox_inputs(config.get("schedule.inbox"))
    days: list[date] = catch_up_dates(ctx, as_of) if args.catch_up else [as_of]
    if len(days) > 1:
        ctx.say(f"catching up {len(days)} scheduled dates: {', '.join(d.isoformat() for d in days)}")
    try:
        for i, day in enumerate(days):
            ctx.say(f"\nsegspark weekly {day} (run {ctx.run_id}, source {ctx.mapping.name}, warehouse {ctx.root})")
            # Deliveries are ingested once, by the first date; a later date sees them in the ledger.
            week = run_week(ctx, day, inputs=inputs if i == 0 else (), force=args.force)
            ctx.summary.setdefault("weeks", {})[day.isoformat()] = {
                "complete_already": week.complete_already,
                "seconds": week.seconds,
                "model": week.model_version,
                "refit": week.refit_reasons,
                "baselines_computed": [d.isoformat() for d in week.baselines_computed],
                "report": week.report.path if week.report else None,
            }
            if not week.complete_already:
                ctx.say(f"week {day} done in {week.seconds:.1f}s")
    finally:
        path = write_summary(ctx.root, ctx.run_id, ctx.summary)
    if path:
        ctx.say(f"summary: {path}")
    return 0
