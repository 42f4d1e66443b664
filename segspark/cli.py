"""The `segspark` command: one subcommand per pipeline step, plus `run` for all of them.

Each subcommand is also `jobs/<name>.py` for spark-submit, with the same arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path

from segspark import __version__, commands, commands_history, commands_lookalike
from segspark.config import Config, load_config
from segspark.context import QUIET_JVM
from segspark.exc import ConfigError, SegsparkError
from segspark.progress import live_steps

log = logging.getLogger("segspark")

Handler = Callable[[Config, argparse.Namespace], int]
Options = Callable[[argparse.ArgumentParser], None]
COMMANDS: dict[str, tuple[str, Options, Handler]] = {
    "validate": (
        "ingest a source through its mapping (or append one delivery): orders/ and rejects/",
        commands.add_validate_args,
        commands.validate,
    ),
    "generate": (
        "write synthetic order lines with planted behaviour groups",
        commands.add_generate_args,
        commands.generate,
    ),
    "features": (
        "compute point-in-time features as of a date: features/",
        commands.add_features_args,
        commands.features,
    ),
    "fit": ("fit per-axis scalers and KMeans on a features snapshot: models/", commands.add_fit_args, commands.fit),
    "name": (
        "(re)name a model's segments with Claude, or keep the deterministic names",
        commands.add_name_args,
        commands.name,
    ),
    "score": (
        "compute features and score every customer as of a date: customer_profiles/",
        commands.add_score_args,
        commands.score,
    ),
    "profile": (
        "print one customer's profile (the Level 3 document) as JSON",
        commands.add_profile_args,
        commands.profile,
    ),
    "snapshot": (
        "features and profiles of one date: customer_profiles/snapshot_date=D",
        commands_history.add_snapshot_args,
        commands_history.snapshot,
    ),
    "backfill": (
        "snapshots of D and D-7 ... D-180 from order history, so drift works on day one",
        commands_history.add_backfill_args,
        commands_history.backfill,
    ),
    "drift": (
        "compare snapshot D with its baselines: drift/ and drift_population/",
        commands_history.add_drift_args,
        commands_history.drift,
    ),
    "weekly": (
        "the scheduled run of date D: ingest new deliveries, snapshot, refit policy, baselines, drift, "
        "report, customer_state",
        commands_history.add_weekly_args,
        commands_history.weekly,
    ),
    "lookalikes": (
        "the customers most similar to a seed list (exact cosine on fingerprints)",
        commands_lookalike.add_lookalikes_args,
        commands_lookalike.lookalikes,
    ),
    "report": (
        "write the HTML report of a snapshot: reports/<run_id>/index.html",
        commands.add_report_args,
        commands.report,
    ),
    "run": ("validate, features, fit, score, backfill, drift and report in order", commands.add_run_args, commands.run),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FILE",
        help="configuration overlay (e.g. conf/local.yaml); repeatable, later wins",
    )
    common.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="sets",
        help="override one configuration key, e.g. --set warehouse.root=/data/wh",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser = argparse.ArgumentParser(prog="segspark", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, add_args, _) in COMMANDS.items():
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        add_args(p)
    return parser


class _FirstOfEach(logging.Filter):
    """Lets through the first record of each message template and counts the rest (nine axes with the
    same weak-silhouette warning show as one line and a count)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: Counter[str] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        self.seen[str(record.msg)] += 1
        return self.seen[str(record.msg)] == 1

    def repeats(self) -> int:
        return sum(n - 1 for n in self.seen.values())


def _setup_logging(verbose: bool) -> _FirstOfEach | None:
    """-v: every log line on stderr (Spark's included). Otherwise stderr shows warnings and errors, each kind
    once, and the run's log files (`runs/RUN_ID/segspark.log`, `spark.log`) get the rest."""
    handler = logging.StreamHandler(sys.stderr)
    once = None
    if verbose:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s %(message)s", datefmt="%H:%M:%S"))
        QUIET_JVM.clear()
    else:
        handler.setLevel(logging.WARNING)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        once = _FirstOfEach()
        handler.addFilter(once)
        QUIET_JVM.set()
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)
    # py4j's chatter is noise even at DEBUG.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    return once


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run one subcommand, and return the process exit code."""
    args = build_parser().parse_args(argv)
    once = _setup_logging(args.verbose)
    # Which copy runs matters under spark-submit (a wheel on --py-files) and on clusters.
    log.info("segspark %s from %s", __version__, Path(__file__).parent)
    try:
        config = load_config(args.config, args.sets)
        with nullcontext() if args.verbose else live_steps():
            return COMMANDS[args.command][2](config, args)
    except ConfigError as err:
        print(f"segspark: configuration error: {err}", file=sys.stderr)
        return 2
    except SegsparkError as err:
        print(f"segspark {args.command}: error: {err}", file=sys.stderr)
        return 1
    finally:
        if once is not None and once.repeats():
            print(f"({once.repeats()} similar warning(s) not repeated; the run log has every one)", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
