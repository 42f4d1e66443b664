"""`segspark report`: gather, render and write reports/<run_id>/index.html in one atomic rename."""

from __future__ import annotations

import os
from datetime import date
from typing import Any

from pyspark.sql import SparkSession

from segspark.exc import SegsparkError
from segspark.model.manifest import Manifest
from segspark.paths import is_local, local_path, table_path
from segspark.report.data import ReportData, gather
from segspark.report.render import render


def report_path(root: str, run_id: str) -> str:
    """Where the report of a run lives."""
    return table_path(root, "reports", run_id) + "/index.html"


def write_report(root: str, run_id: str, html: str) -> str:
    """Write the HTML next to a temporary name and rename it into place; return its path."""
    path = report_path(root, run_id)
    if not is_local(path):
        raise SegsparkError("reports are written to a local or mounted warehouse path (e.g. /dbfs/... on Databricks)")
    target = local_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, target)
    return str(target)


def run_report(
    spark: SparkSession,
    *,
    root: str,
    as_of: date,
    manifest: Manifest,
    run_id: str,
    cfg: dict[str, Any],
    steps: dict[str, Any] | None = None,
) -> tuple[str, ReportData]:
    """Build the report of `as_of` with `manifest`; return its path and the data it shows."""
    data = gather(
        spark,
        root=root,
        as_of=as_of.isoformat(),
        manifest=manifest,
        run_id=run_id,
        frequency_axis=str(cfg.get("frequency_axis", "purchase_frequency")),
        steps=steps,
        baselines=[int(o) for o in cfg.get("baselines") or []],
        schedule=cfg.get("schedule"),
        skips=cfg.get("skips"),
    )
    html = render(data, float(cfg.get("min_silhouette", 0.3)))
    return write_report(root, run_id, html), data
