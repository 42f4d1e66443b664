"""What every command shares: config, warehouse root, run id, session, summary."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pyspark.sql import SparkSession

from segspark.config import Config
from segspark.exc import ConfigError
from segspark.mapping import SourceMapping, load_mapping
from segspark.paths import STALE_STAGING_HOURS, check_warehouse, clean_staging
from segspark.runlog import JVM_LOG, attach_run_log, new_run_id
from segspark.session import get_spark
from segspark.tables import open_old_partitions, use_format

log = logging.getLogger(__name__)


# Set by the command line unless -v: a JVM segspark starts writes its output to the run's spark.log.
QUIET_JVM = threading.Event()


def log_line(line: str) -> None:
    """The default progress sink of library callers (notebooks, jobs): the `segspark` logger."""
    logging.getLogger("segspark").info("%s", line)


def console(line: str) -> None:
    """The command line's progress sink: one write per line, so lines of concurrent steps never interleave."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@dataclass
class RunContext:
    """A command's resolved inputs; Spark starts only when `spark` is first used."""

    config: Config
    root: str
    run_id: str
    mapping: SourceMapping
    summary: dict[str, Any] = field(default_factory=dict)
    say: Callable[[str], None] = log_line
    # Where the output of a JVM segspark starts goes instead of the terminal (the command line's quiet mode).
    jvm_log: str | None = None
    _spark: SparkSession | None = None

    @property
    def spark(self) -> SparkSession:
        """The SparkSession (active one reused, else a local one from config)."""
        if self._spark is None:
            spark = get_spark(self.config.section("spark"), jvm_log=self.jvm_log)
            use_format(spark, str(self.config.get("warehouse.format")))
            self._spark = spark
        return self._spark


def parse_date(text: str, what: str) -> date:
    """Parse YYYY-MM-DD or fail naming the option."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{what} must be a date YYYY-MM-DD, got {text!r}") from None


def parse_instant(text: str | None, what: str) -> datetime | None:
    """Parse an ISO date or date-time (UTC, zone-naive) or return None."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        raise ConfigError(f"{what} must be an ISO date or date-time, got {text!r}") from None


def make_context(config: Config, source: str | None = None, say: Callable[[str], None] | None = None) -> RunContext:
    """Validate paths and the mapping before Spark starts, and return the context."""
    root = check_warehouse(str(config.get("warehouse.root")))
    fmt = config.get("warehouse.format")
    if fmt not in ("parquet", "delta"):
        raise ConfigError(f"warehouse.format must be parquet or delta, got {fmt!r}")
    mapping = load_mapping(source or str(config.get("run.source")))
    run_id = new_run_id()
    summary: dict[str, Any] = {
        "run_id": run_id,
        "source": mapping.name,
        "warehouse": root,
        "config": list(config.origins),
    }
    say = say or log_line
    logs = attach_run_log(root, run_id)
    jvm_log = str(logs / JVM_LOG) if logs is not None and QUIET_JVM.is_set() else None
    if logs is not None:
        summary["logs"] = str(logs)
    if fmt == "parquet":
        opened = open_old_partitions(root)
        if opened:
            summary["partitions_opened"] = opened
            more = " ..." if len(opened) > 5 else ""
            say(
                f"rewrote {len(opened)} partition(s) written by an earlier segspark into open directories "
                f"any Parquet reader can read (no data copied): {', '.join(opened[:5])}{more}"
            )
    stale = clean_staging(root, now=time.time())
    if stale:
        summary["staging_removed"] = stale
        say(
            f"removed {len(stale)} leftover(s) of killed runs from {root}/_staging (untouched for "
            f"{STALE_STAGING_HOURS} hours): {', '.join(stale[:5])}{' ...' if len(stale) > 5 else ''}"
        )
    return RunContext(
        config=config, root=root, run_id=run_id, mapping=mapping, summary=summary, say=say, jvm_log=jvm_log
    )
