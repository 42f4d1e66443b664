"""The single-step subcommands: parse their own options, call one step, print what it did."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import PurePosixPath

from segspark.command_base import as_of_arg, required_as_of, resolve_as_of, single_step, source_arg
from segspark.config import Config
from segspark.context import RunContext, console, make_context, parse_date
from segspark.exc import ConfigError
from segspark.model.manifest import load_manifest
from segspark.render import features_lines, model_lines, score_lines
from segspark.runlog import step
from segspark.steps import features_step, fit_step, report_step, score_step, validate_step

log = logging.getLogger("segspark")


def add_validate_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark validate`."""
    source_arg(p)
    p.add_argument("--input", help="read this path instead of the mapping's source.path")
    p.add_argument(
        "--append",
        action="store_true",
        help="add --input to the source's orders through the ingestion ledger (a file delivered twice counts "
        "once; a corrected file, same name, replaces its lines) instead of replacing every line",
    )


def validate(config: Config, args: argparse.Namespace) -> int:
    """`segspark validate`."""
    if args.append and not args.input:
        raise ConfigError("validate --append needs --input PATH (the new delivery)")

    def action(ctx: RunContext) -> list[str]:
        validate_step(ctx, input_path=args.input, append=args.append)
        return [
            f"orders:  {ctx.root}/orders/source={ctx.mapping.name}",
            f"rejects: {ctx.root}/rejects/source={ctx.mapping.name}",
        ]

    return single_step(config, args.source, action)


def add_generate_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark generate`."""
    p.add_argument("--customers", type=int, default=5_000)
    p.add_argument("--lines", type=int, default=250_000, help="approximate number of purchase lines")
    p.add_argument("--groups", type=int, default=4, help="number of planted behaviour groups")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--end", default="2024-01-01", help="orders fall before this date")
    p.add_argument("--days", type=int, default=730, help="length of the history in days")
    p.add_argument("--out", default="generated", help="output directory (orders/ and truth/)")


def generate(config: Config, args: argparse.Namespace) -> int:
    """`segspark generate`."""
    from segspark.generate import GenerateSpec, write_generated
    from segspark.session import get_spark

    if args.customers < 1 or args.lines < args.customers or args.groups < 1:
        raise ConfigError("generate needs --customers >= 1, --lines >= --customers and --groups >= 1")
    spec = GenerateSpec(args.customers, args.lines, args.groups, args.seed, parse_date(args.end, "--end"), args.days)
    spark = get_spark(config.section("spark"))
    with step("generate") as info:
        counts = write_generated(spark, spec, args.out)
        info["rows"] = counts["lines"]
    lines, customers = counts["lines"], counts["customers"]
    console(f"wrote {lines:,} order lines of {customers:,} customers in {spec.groups} planted groups")
    console(
        f"orders: {args.out}/orders   tickets: {args.out}/tickets   truth: {args.out}/truth   "
        "(mapping preset: synthetic)"
    )
    return 0


def add_features_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark features`."""
    source_arg(p)
    as_of_arg(p)


def features(config: Config, args: argparse.Namespace) -> int:
    """`segspark features`."""

    def action(ctx: RunContext) -> list[str]:
        result = features_step(ctx, resolve_as_of(ctx, args.as_of))
        return [*features_lines(result), f"features: {ctx.root}/features/snapshot_date={result.as_of}"]

    return single_step(config, args.source, action)


def add_fit_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark fit`."""
    source_arg(p)
    as_of_arg(p, required=True)
    p.add_argument(
        "--previous-model",
        dest="previous_model",
        help="model directory whose segment ids and names matched segments keep",
    )


def fit(config: Config, args: argparse.Namespace) -> int:
    """`segspark fit`: on the committed features of --as-of."""

    def action(ctx: RunContext) -> list[str]:
        as_of = required_as_of(ctx, args.as_of, "fit")
        result = fit_step(ctx, as_of, previous=args.previous_model)
        return [*model_lines(result.manifest), f"model: {result.path}"]

    return single_step(config, args.source, action)


def add_name_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark name`."""
    p.add_argument("--model", help="model directory (default: the newest model in the warehouse)")


def name(config: Config, args: argparse.Namespace) -> int:
    """`segspark name`."""
    from segspark.model.claude_names import NamingSettings
    from segspark.model.manifest import model_dir, save_manifest
    from segspark.model.step import name_and_cache

    ctx = make_context(config, say=console)
    root = _warehouse_of(args.model) if args.model else ctx.root
    manifest = load_manifest(args.model or root)
    directory = model_dir(root, manifest.model_version)
    with step("name", ctx.summary):
        named = name_and_cache(manifest, directory, NamingSettings.from_config(config.section("naming")))
    save_manifest(root, named)
    console(f"model {named.model_version}: {directory}")
    for axis_name, axis in named.axes.items():
        console(f"  {axis_name}")
        sources = axis.name_sources or ["deterministic"] * axis.k
        for sid, label, source in zip(axis.segment_ids, axis.names, sources, strict=True):
            console(f"      {sid:<34} {label:<42} ({source})")
    return 0


def _warehouse_of(model: str) -> str:
    """The warehouse root of a model directory <root>/models/<version>."""
    parent = PurePosixPath(model.rstrip("/")).parent
    if parent.name != "models":
        raise ConfigError(f"--model {model} is not a directory under <warehouse>/models/")
    return str(parent.parent)


def add_score_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark score`."""
    source_arg(p)
    as_of_arg(p)
    p.add_argument("--model", help="model directory (default: the newest model in the warehouse)")


def score(config: Config, args: argparse.Namespace) -> int:
    """`segspark score`: features of the date, then profiles."""

    def action(ctx: RunContext) -> list[str]:
        computed = features_step(ctx, resolve_as_of(ctx, args.as_of))
        result = score_step(ctx, computed.as_of, load_manifest(args.model or ctx.root))
        return [
            *features_lines(computed),
            *score_lines(result),
            f"profiles: {ctx.root}/customer_profiles/snapshot_date={computed.as_of}",
        ]

    return single_step(config, args.source, action)


def add_profile_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark profile`."""
    p.add_argument("--customer", required=True, help="customer id")
    p.add_argument("--as-of", dest="as_of", help="snapshot date (default: the newest committed snapshot)")


def profile(config: Config, args: argparse.Namespace) -> int:
    """`segspark profile`: one customer's Level 3 document as JSON."""
    from segspark.score.profile import customer_document

    ctx = make_context(config, say=console)
    as_of = parse_date(args.as_of, "--as-of") if args.as_of else None
    console(json.dumps(customer_document(ctx.spark, ctx.root, args.customer, as_of), indent=2))
    return 0


def add_report_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark report`."""
    as_of_arg(p, required=True)
    p.add_argument("--model", help="model directory (default: the newest model in the warehouse)")


def report(config: Config, args: argparse.Namespace) -> int:
    """`segspark report`."""

    def action(ctx: RunContext) -> list[str]:
        as_of = required_as_of(ctx, args.as_of, "report")
        return [f"report: {report_step(ctx, as_of, load_manifest(args.model or ctx.root)).path}"]

    return single_step(config, None, action)


def add_run_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark run`."""
    source_arg(p)
    as_of_arg(p)
    p.add_argument(
        "--previous-model",
        dest="previous_model",
        help="model whose identities to keep (default: the newest model in the warehouse)",
    )
    p.add_argument("--input", help="read this path instead of the mapping's source.path")


def run(config: Config, args: argparse.Namespace) -> int:
    """`segspark run`: the whole pipeline."""
    from segspark.pipeline import run_pipeline

    ctx = make_context(config, args.source, say=console)
    run_pipeline(config, as_of=args.as_of, input_path=args.input, previous_model=args.previous_model, ctx=ctx)
    return 0
