"""What each subcommand does: parse its own options, call the library, print a summary."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from datetime import date

from segspark.config import Config
from segspark.context import RunContext, make_context, parse_date, parse_instant
from segspark.exc import ConfigError
from segspark.runlog import step, write_summary

log = logging.getLogger("segspark")


def _single_step(config: Config, source: str | None, action: Callable[[RunContext], list[str]]) -> int:
    """Run one step in its own context, always write the run summary, then print where outputs are."""
    ctx = make_context(config, source)
    try:
        outputs = action(ctx)
    finally:
        summary = write_summary(ctx.root, ctx.run_id, ctx.summary)
    for line in outputs:
        print(line)
    if summary:
        print(f"summary: {summary}")
    return 0


def _source_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", help="mapping preset name or mapping file (default: run.source)")


def _as_of_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", dest="as_of", help="YYYY-MM-DD; only orders before this date count (default: run.as_of)")


def add_validate_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark validate`."""
    _source_arg(p)
    p.add_argument("--input", help="read this path instead of the mapping's source.path")


def add_generate_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark generate`."""
    p.add_argument("--customers", type=int, default=5_000)
    p.add_argument("--lines", type=int, default=250_000, help="approximate number of purchase lines")
    p.add_argument("--groups", type=int, default=4, help="number of planted behaviour groups")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--end", default="2024-01-01", help="orders fall before this date")
    p.add_argument("--days", type=int, default=730, help="length of the history in days")
    p.add_argument("--out", default="generated", help="output directory (orders/ and truth/)")


def add_features_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark features`."""
    _source_arg(p)
    _as_of_arg(p)


def add_run_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark run`."""
    _source_arg(p)
    _as_of_arg(p)
    p.add_argument("--previous-model", dest="previous_model",
                   help="model whose identities to keep (default: the newest model in the warehouse)")  # fmt: skip
    p.add_argument("--input", help="read this path instead of the mapping's source.path")


def do_validate(ctx: RunContext, input_path: str | None = None) -> dict[str, object]:
    """Ingest the source; return the ingestion report as a dict."""
    from segspark.ingest.validate import validate

    cfg = ctx.config
    with step("validate", ctx.summary) as info:
        report = validate(
            ctx.spark,
            ctx.mapping,
            root=ctx.root,
            run_id=ctx.run_id,
            max_malformed_fraction=float(cfg.get("ingest.max_malformed_fraction")),
            path=input_path,
            max_order_ts=parse_instant(cfg.get("ingest.max_order_ts"), "ingest.max_order_ts"),
            repartition=int(cfg.get("ingest.repartition")),
        )
        info.update(report.as_dict())
        info["rows"] = report.valid
    for line in report.lines():
        print(line)
    return report.as_dict()


def _validate(config: Config, args: argparse.Namespace) -> int:
    def action(ctx: RunContext) -> list[str]:
        do_validate(ctx, args.input)
        return [f"orders:  {ctx.root}/orders/source={ctx.mapping.name}",
                f"rejects: {ctx.root}/rejects/source={ctx.mapping.name}"]  # fmt: skip

    return _single_step(config, args.source, action)


def _generate(config: Config, args: argparse.Namespace) -> int:
    from segspark.generate import GenerateSpec, write_generated
    from segspark.session import get_spark

    if args.customers < 1 or args.lines < args.customers or args.groups < 1:
        raise ConfigError("generate needs --customers >= 1, --lines >= --customers and --groups >= 1")
    spec = GenerateSpec(args.customers, args.lines, args.groups, args.seed, parse_date(args.end, "--end"), args.days)
    spark = get_spark(config.section("spark"))
    with step("generate") as info:
        counts = write_generated(spark, spec, args.out)
        info["rows"] = counts["lines"]
    print(f"wrote {counts['lines']:,} order lines of {counts['customers']:,} customers in {spec.groups} planted groups")
    print(f"orders: {args.out}/orders   truth: {args.out}/truth   (mapping preset: synthetic)")
    return 0


def resolve_as_of(ctx: RunContext, cli_value: str | None) -> date | None:
    """The as-of date from the command line, else run.as_of, else None (derive from data)."""
    text = cli_value or ctx.config.get("run.as_of")
    return parse_date(text, "--as-of") if text else None


def do_features(ctx: RunContext, as_of: date | None, key: str = "features", verbose: bool = True) -> date:
    """Compute and commit features; print the plan; return the as-of date used (summary entry `key`)."""
    from segspark.features.step import run_features

    with step(key, ctx.summary) as info:
        result = run_features(
            ctx.spark, root=ctx.root, mapping=ctx.mapping, as_of=as_of,
            axes_file=ctx.config.get("features.axes_file"), run_id=ctx.run_id,
        )  # fmt: skip
        info.update(
            as_of=result.as_of.isoformat(),
            axes=[a.name for a in result.plan.axes],
            skipped_axes=result.plan.skipped,
            dropped_features=result.plan.dropped,
            rows=result.customers,
        )
    ctx.summary.setdefault("as_of", result.as_of.isoformat())
    print(f"features as of {result.as_of}: {result.customers:,} customers, {len(result.plan.columns)} features")
    if not verbose:
        return result.as_of
    for axis in result.plan.axes:
        print(f"  {axis.name:<26} {', '.join(axis.features)}")
    for name, reason in result.plan.skipped.items():
        print(f"  {name:<26} skipped: {reason}")
    return result.as_of


def add_fit_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark fit`."""
    _source_arg(p)
    _as_of_arg(p)
    p.add_argument("--previous-model", dest="previous_model",
                   help="model directory whose segment ids and names matched segments keep")  # fmt: skip


def do_fit(ctx: RunContext, as_of: date, previous: str | None) -> str:
    """Fit and save a model on the features of `as_of`; print per-axis results; return the model directory."""
    from segspark.model.step import run_fit

    skipped = ctx.summary.get("steps", {}).get("features", {}).get("skipped_axes")
    with step("fit", ctx.summary) as info:
        manifest, path = run_fit(
            ctx.spark, root=ctx.root, mapping=ctx.mapping, as_of=as_of.isoformat(),
            axes_file=ctx.config.get("features.axes_file"), cfg=ctx.config.section("fit"),
            previous=previous, skipped=skipped, naming=ctx.config.section("naming"),
        )  # fmt: skip
        info.update(model_version=manifest.model_version, model=path,
                    k={a: m.k for a, m in manifest.axes.items()}, archetypes=len(manifest.archetypes))  # fmt: skip
    print(f"model {manifest.model_version}: {len(manifest.axes)} axes, {len(manifest.archetypes)} observed archetypes")
    for name, axis in manifest.axes.items():
        sil = axis.silhouette_by_k[str(axis.k)]
        flag = "  (weak: below min_silhouette)" if axis.warnings else ""
        print(f"  {name:<26} k={axis.k} silhouette={sil:.3f}{flag}")
        for sid, seg, size in zip(axis.segment_ids, axis.names, axis.sizes, strict=True):
            print(f"      {sid:<34} {size:>8,}  {seg}")
    return path


def _fit(config: Config, args: argparse.Namespace) -> int:
    def action(ctx: RunContext) -> list[str]:
        as_of = resolve_as_of(ctx, args.as_of)
        if as_of is None:
            raise ConfigError("fit needs --as-of (or run.as_of): the features snapshot to fit on")
        return [f"model: {do_fit(ctx, as_of, args.previous_model)}"]

    return _single_step(config, args.source, action)


def _features(config: Config, args: argparse.Namespace) -> int:
    def action(ctx: RunContext) -> list[str]:
        as_of = do_features(ctx, resolve_as_of(ctx, args.as_of))
        return [f"features: {ctx.root}/features/snapshot_date={as_of}"]

    return _single_step(config, args.source, action)


def add_name_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark name`."""
    p.add_argument("--model", help="model directory (default: the newest model in the warehouse)")


def _name(config: Config, args: argparse.Namespace) -> int:
    from segspark.model.claude_names import NamingSettings
    from segspark.model.manifest import load_manifest, model_dir, save_manifest
    from segspark.model.step import name_and_cache

    ctx = make_context(config)
    root = _warehouse_of(args.model) if args.model else ctx.root
    manifest = load_manifest(args.model or root)
    directory = model_dir(root, manifest.model_version)
    with step("name", ctx.summary):
        named = name_and_cache(manifest, directory, NamingSettings.from_config(config.section("naming")))
    save_manifest(root, named)
    print(f"model {named.model_version}: {directory}")
    for axis_name, axis in named.axes.items():
        print(f"  {axis_name}")
        for sid, label, source in zip(axis.segment_ids, axis.names, axis.name_sources or ["deterministic"] * axis.k,
                                      strict=True):  # fmt: skip
            print(f"      {sid:<34} {label:<42} ({source})")
    return 0


def _warehouse_of(model: str) -> str:
    """The warehouse root of a model directory <root>/models/<version>."""
    from pathlib import PurePosixPath

    parent = PurePosixPath(model.rstrip("/")).parent
    if parent.name != "models":
        raise ConfigError(f"--model {model} is not a directory under <warehouse>/models/")
    return str(parent.parent)


def add_score_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark score`."""
    _source_arg(p)
    _as_of_arg(p)
    p.add_argument("--model", help="model directory (default: the newest model in the warehouse)")


def do_score(ctx: RunContext, as_of: date, model: str | None, key: str = "score") -> str:
    """Score the committed features of `as_of` into customer_profiles; print a summary; return the partition."""
    from segspark.model.manifest import load_manifest
    from segspark.score.step import PROFILES, run_score

    manifest = load_manifest(model or ctx.root)
    with step(key, ctx.summary) as info:
        result = run_score(
            ctx.spark, root=ctx.root, mapping=ctx.mapping, as_of=as_of, manifest=manifest, run_id=ctx.run_id
        )
        info.update(model_version=result.model_version, as_of=as_of.isoformat(), rows=result.commit.row_count)
    print(f"profiles as of {as_of}: {result.commit.row_count:,} customers scored with model {result.model_version}")
    return f"{ctx.root}/{PROFILES}/snapshot_date={as_of}"


def _score(config: Config, args: argparse.Namespace) -> int:
    def action(ctx: RunContext) -> list[str]:
        as_of = do_features(ctx, resolve_as_of(ctx, args.as_of))
        return [f"profiles: {do_score(ctx, as_of, args.model)}"]

    return _single_step(config, args.source, action)


def add_profile_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark profile`."""
    p.add_argument("--customer", required=True, help="customer id")
    p.add_argument("--as-of", dest="as_of", help="snapshot date (default: the newest committed snapshot)")


def _profile(config: Config, args: argparse.Namespace) -> int:
    import json

    from segspark.score.profile import customer_document

    ctx = make_context(config)
    as_of = parse_date(args.as_of, "--as-of") if args.as_of else None
    print(json.dumps(customer_document(ctx.spark, ctx.root, args.customer, as_of), indent=2))
    return 0


def _run(config: Config, args: argparse.Namespace) -> int:
    from segspark.pipeline import run_pipeline

    run_pipeline(config, source=args.source, as_of=args.as_of, input_path=args.input,
                 previous_model=args.previous_model)  # fmt: skip
    return 0


def add_report_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark report`."""
    p.add_argument("--as-of", dest="as_of", help="the snapshot to report on (default: run.as_of)")
    p.add_argument("--model", help="model directory (default: the newest model in the warehouse)")


def _report(config: Config, args: argparse.Namespace) -> int:
    from segspark.pipeline import do_report

    def action(ctx: RunContext) -> list[str]:
        as_of = resolve_as_of(ctx, args.as_of)
        if as_of is None:
            raise ConfigError("report needs --as-of (or run.as_of): the snapshot to report on")
        do_report(ctx, as_of, args.model)
        return []

    return _single_step(config, None, action)


def latest_model(root: str) -> str | None:
    """The newest model directory under the warehouse, if any (so weekly runs keep segment ids)."""
    from segspark.exc import MissingInputError
    from segspark.model.manifest import load_manifest, model_dir

    try:
        return model_dir(root, load_manifest(root).model_version)
    except MissingInputError:
        return None


HANDLERS = {
    "validate": _validate, "generate": _generate, "features": _features, "fit": _fit,
    "name": _name, "score": _score, "profile": _profile, "run": _run, "report": _report,
}  # fmt: skip


def dispatch(command: str, config: Config, args: argparse.Namespace) -> int:
    """Run one subcommand."""
    from segspark import commands_history as history
    from segspark.commands_lookalike import lookalikes

    handlers = {
        **HANDLERS, "snapshot": history.snapshot, "backfill": history.backfill, "drift": history.drift,
        "lookalikes": lookalikes,
    }  # fmt: skip
    return handlers[command](config, args)
