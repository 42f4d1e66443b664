"""`segspark run`: every step in order on one source, with a progress line per step and a final summary.

Each step commits its own tables (SPEC section 10), so a failure names the step and lists what was
already committed; re-running redoes only what is needed to overwrite those partitions safely.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from segspark.config import Config
from segspark.context import RunContext, make_context
from segspark.exc import SegsparkError

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


def do_report(ctx: RunContext, as_of: date, model: str | None) -> str:
    """Write the HTML report of `as_of`; return its path."""
    from segspark.model.manifest import load_manifest
    from segspark.report.step import run_report
    from segspark.runlog import step

    manifest = load_manifest(model or ctx.root)
    cfg = {"min_silhouette": ctx.config.get("fit.min_silhouette"),
           "frequency_axis": ctx.config.get("drift.frequency_axis")}  # fmt: skip
    steps = dict(ctx.summary.get("steps", {}))
    with step("report", ctx.summary) as info:
        path, data = run_report(ctx.spark, root=ctx.root, as_of=as_of, manifest=manifest, run_id=ctx.run_id,
                                cfg=cfg, steps=steps)  # fmt: skip
        info.update(path=path, rows=data.customers)
    print(f"report: {path}")
    return path


def run_pipeline(
    config: Config, *, source: str | None = None, as_of: str | None = None, input_path: str | None = None,
    previous_model: str | None = None, ctx: RunContext | None = None,
) -> PipelineResult:  # fmt: skip
    """validate -> features -> fit (+ naming) -> score -> backfill -> drift -> report.

    `as_of` defaults to run.as_of, else the day after the newest valid order. The previous model
    (whose segment ids and names matched segments keep) defaults to the newest in the warehouse.
    """
    from segspark.commands import do_features, do_fit, do_score, do_validate, latest_model, resolve_as_of
    from segspark.commands_history import do_backfill, do_drift
    from segspark.runlog import write_summary

    ctx = ctx or make_context(config, source)
    result = PipelineResult(ctx.run_id, ctx.root, summary=ctx.summary)
    print(f"segspark run {ctx.run_id}: source {ctx.mapping.name}, warehouse {ctx.root}")
    state: dict[str, Any] = {}

    def validate() -> list[str]:
        do_validate(ctx, input_path)
        return [f"orders/source={ctx.mapping.name}", f"rejects/source={ctx.mapping.name}"]

    def features() -> list[str]:
        state["as_of"] = do_features(ctx, resolve_as_of(ctx, as_of))
        return [f"features/snapshot_date={state['as_of']}"]

    def fit() -> list[str]:
        state["model"] = do_fit(ctx, state["as_of"], previous_model or latest_model(ctx.root))
        return [f"models/{state['model'].rsplit('/', 1)[-1]}"]

    def score() -> list[str]:
        do_score(ctx, state["as_of"], state["model"])
        return [f"customer_profiles/snapshot_date={state['as_of']}"]

    def backfill() -> list[str]:
        offsets = [int(o) for o in ctx.config.get("history.backfill_offsets")]
        written = do_backfill(ctx, state["as_of"], state["model"], offsets, skip={state["as_of"]})
        return [p.removeprefix(ctx.root + "/") for p in written]

    def drift() -> list[str]:
        do_drift(ctx, state["as_of"])
        return [f"drift/snapshot_date={state['as_of']}", f"drift_population/snapshot_date={state['as_of']}"]

    def report() -> list[str]:
        state["report"] = do_report(ctx, state["as_of"], state["model"])
        return [state["report"].removeprefix(ctx.root + "/")]

    actions: dict[str, Callable[[], list[str]]] = {
        "validate": validate, "features": features, "fit": fit, "score": score, "backfill": backfill,
        "drift": drift, "report": report,
    }  # fmt: skip
    started = time.perf_counter()
    try:
        for i, name in enumerate(STEPS, start=1):
            print(f"\n[{i}/{len(STEPS)}] {name}")
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
            print(f"[{i}/{len(STEPS)}] {name} done: {rows_text:>16}  {info.get('seconds', 0.0):7.1f}s")
    finally:
        ctx.summary["seconds"] = round(time.perf_counter() - started, 2)
        result.summary_path = write_summary(ctx.root, ctx.run_id, ctx.summary)
    result.as_of, result.model, result.report = state.get("as_of"), state.get("model"), state.get("report")
    print_summary(result)
    return result


def print_summary(result: PipelineResult) -> None:
    """The final summary: per step seconds and rows, then where everything is."""
    print("\nsteps:")
    for name, info in result.summary.get("steps", {}).items():
        rows = info.get("rows")
        print(f"  {name:<22} {info['seconds']:>7.1f}s" + (f"  {rows:>10,} rows" if isinstance(rows, int) else ""))
    print(f"  {'total':<22} {result.summary.get('seconds', 0.0):>7.1f}s")
    print(f"\noutputs under {result.root}")
    if result.summary_path:
        print(f"run summary: {result.summary_path}")
    if result.report:
        print(f"report: {result.report}")
