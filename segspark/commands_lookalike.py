"""`segspark lookalikes`: who else behaves like these customers (SPEC section 8)."""

from __future__ import annotations

import argparse

from segspark.command_base import single_step
from segspark.config import Config
from segspark.context import RunContext, console, parse_date
from segspark.exc import ConfigError
from segspark.runlog import step


def add_lookalikes_args(p: argparse.ArgumentParser) -> None:
    """Options of `segspark lookalikes`."""
    p.add_argument("--as-of", dest="as_of", help="profile snapshot (default: the newest committed one)")
    p.add_argument("--seeds", help="file of seed customer ids, one per line (or a CSV whose first column they are)")
    p.add_argument("--k", type=int, help="neighbours per seed (default: lookalikes.k)")
    p.add_argument(
        "--audience",
        type=int,
        metavar="SIZE",
        help="one merged audience of at most SIZE customers instead of a list per seed",
    )
    p.add_argument(
        "--all",
        action="store_true",
        dest="all_customers",
        help="every customer's approximate k nearest neighbours (LSH; lookalikes.lsh settings)",
    )
    p.add_argument("--csv", help="also write the result as one CSV file into this new directory")


def lookalikes(config: Config, args: argparse.Namespace) -> int:
    """`segspark lookalikes`."""
    from segspark.lookalike.approximate import LshSettings
    from segspark.lookalike.step import preview, read_seed_file, run_all_neighbours, run_lookalikes

    if args.all_customers == bool(args.seeds):
        raise ConfigError("lookalikes needs either --seeds FILE (customer ids, one per line) or --all")
    seeds = read_seed_file(args.seeds) if args.seeds else []

    def action(ctx: RunContext) -> list[str]:
        k = int(args.k or ctx.config.get("lookalikes.k"))
        as_of = parse_date(args.as_of, "--as-of") if args.as_of else None
        if args.all_customers:
            with step("lookalikes", ctx.summary) as info:
                lsh = LshSettings(**dict(ctx.config.section("lookalikes")["lsh"]))
                everyone = run_all_neighbours(ctx.spark, root=ctx.root, as_of=as_of, k=k, lsh=lsh, run_id=ctx.run_id)
                info.update(snapshot=everyone.snapshot, rows=everyone.commit.row_count, mode="all")
            rows = everyone.commit.row_count
            console(f"approximate neighbours on snapshot {everyone.snapshot}: {rows:,} rows (k={k})")
            return [f"lookalikes: {ctx.root}/lookalikes/snapshot_date={everyone.snapshot}"]
        with step("lookalikes", ctx.summary) as info:
            result = run_lookalikes(
                ctx.spark,
                root=ctx.root,
                as_of=as_of,
                seed_ids=seeds,
                k=k,
                audience_size=args.audience,
                csv=args.csv,
                run_id=ctx.run_id,
            )
            info.update(
                snapshot=result.snapshot,
                seeds=len(result.seeds),
                missing_seeds=result.missing,
                rows=result.commit.row_count,
            )
        console(
            f"lookalikes on snapshot {result.snapshot}: {len(result.seeds)} seed(s), "
            f"{result.commit.row_count:,} rows (k={k}{f', audience <= {args.audience:,}' if args.audience else ''})"
        )
        if result.missing:
            console(f"  skipped {len(result.missing)} seed(s) without a profile: {', '.join(result.missing[:20])}")
        for seed, rank, customer, sim in preview(ctx.spark, ctx.root, result.snapshot):
            console(f"  {seed:<12} #{rank:<3} {customer:<12} {sim:.4f}")
        out = [f"lookalikes: {ctx.root}/lookalikes/snapshot_date={result.snapshot}"]
        return out + ([f"csv: {result.csv}"] if result.csv else [])

    return single_step(config, None, action)
