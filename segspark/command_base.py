"""What every subcommand shares: its common options, the as-of date, and running one step in a context."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date

from segspark.config import Config
from segspark.context import RunContext, console, make_context, parse_date
from segspark.exc import ConfigError
from segspark.runlog import write_summary


def single_step(config: Config, source: str | None, action: Callable[[RunContext], list[str]]) -> int:
    """Run one step in its own context, always write the run summary, then print where outputs are."""
    ctx = make_context(config, source, say=console)
    try:
        outputs = action(ctx)
    finally:
        summary = write_summary(ctx.root, ctx.run_id, ctx.summary)
    for line in outputs:
        ctx.say(line)
    if summary:
        ctx.say(f"summary: {summary}")
    return 0


def source_arg(p: argparse.ArgumentParser) -> None:
    """The --source option."""
    p.add_argument("--source", help="mapping preset name or mapping file (default: run.source)")


def as_of_arg(p: argparse.ArgumentParser, *, required: bool = False) -> None:
    """The --as-of option; `required` ones have no data-derived default (run.as_of still serves)."""
    default = "run.as_of" if required else "run.as_of, else the day after the last order"
    p.add_argument("--as-of", dest="as_of", help=f"YYYY-MM-DD; only orders before this date count (default: {default})")


def resolve_as_of(ctx: RunContext, cli_value: str | None) -> date | None:
    """The as-of date from the command line, else run.as_of, else None (derive from data)."""
    text = cli_value or ctx.config.get("run.as_of")
    return parse_date(text, "--as-of") if text else None


def required_as_of(ctx: RunContext, value: str | None, command: str) -> date:
    """The as-of date of a command that cannot derive one from data."""
    day = resolve_as_of(ctx, value)
    if day is None:
        raise ConfigError(f"{command} needs --as-of (or run.as_of)")
    return day
