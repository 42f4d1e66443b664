"""Run ids, step timings and the run summary document."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from segspark.exc import FeatureMismatchError
from segspark.paths import is_local, local_path, table_path

log = logging.getLogger("segspark")

RUN_LOG, JVM_LOG = "segspark.log", "spark.log"
_run_log: logging.Handler | None = None


def attach_run_log(root: str, run_id: str) -> Path | None:
    """Send every log record (INFO and up) of this process to `runs/<run_id>/segspark.log` as well, and
    return that directory (local roots; elsewhere None). The handler of an earlier run in this process
    (a notebook, the tests) is replaced."""
    global _run_log
    if _run_log is not None:
        logging.getLogger().removeHandler(_run_log)
        _run_log.close()
        _run_log = None
    if not is_local(root):
        return None
    directory = local_path(table_path(root, "runs", run_id))
    directory.mkdir(parents=True, exist_ok=True)
    _run_log = logging.FileHandler(directory / RUN_LOG, encoding="utf-8")
    _run_log.setLevel(logging.INFO)
    _run_log.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    # py4j logs every gateway call at INFO and below: noise, as on the terminal.
    _run_log.addFilter(lambda r: not r.name.startswith("py4j") or r.levelno >= logging.WARNING)
    logging.getLogger().addHandler(_run_log)
    if logging.getLogger().level > logging.INFO or logging.getLogger().level == logging.NOTSET:
        logging.getLogger().setLevel(logging.INFO)
    from segspark import __version__

    # Which copy runs matters under spark-submit (a wheel on --py-files) and on clusters.
    log.info("segspark %s from %s, run %s", __version__, Path(__file__).parent, run_id)
    return directory


def new_run_id() -> str:
    """A sortable, unique run id such as 20261126T201500Z-3fa2c1."""
    # Run metadata, not feature code: reading the clock here is intended.
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


@contextmanager
def step(name: str, summary: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Log a step's start and end with its duration; the yielded dict collects its numbers."""
    info: dict[str, Any] = {}
    log.info("[%s] started", name)
    started = time.perf_counter()
    try:
        yield info
    except FeatureMismatchError:
        # Callers that can skip the date (backfill) say so; one that cannot reports the error itself.
        log.info("[%s] stopped after %.1fs: features do not match the model", name, time.perf_counter() - started)
        raise
    except Exception:
        log.error("[%s] failed after %.1fs", name, time.perf_counter() - started)
        raise
    info["seconds"] = round(time.perf_counter() - started, 2)
    rows = f", {info['rows']:,} rows" if isinstance(info.get("rows"), int) else ""
    log.info("[%s] done in %.1fs%s", name, info["seconds"], rows)
    if summary is not None:
        summary.setdefault("steps", {})[name] = info


def write_summary(root: str, run_id: str, summary: dict[str, Any]) -> str | None:
    """Write the run summary JSON under `runs/<run_id>/`; return its path (local roots)."""
    if not is_local(root):
        log.info("run summary: %s", json.dumps(summary, default=str))
        return None
    path = local_path(table_path(root, "runs", run_id)) / "summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=str))
    tmp.replace(path)
    return str(path)


def read_json(path: str | Path) -> Any:
    """Read a JSON document from a local path."""
    return json.loads(Path(path).read_text())
