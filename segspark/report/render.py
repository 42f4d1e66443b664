"""Turn gathered report data into one self-contained HTML file (figures embedded, text escaped)."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import jinja2

from segspark import __version__
from segspark.report import plots
from segspark.report.data import ReportData
from segspark.report.plots import data_uri as uri


def figures(data: ReportData, min_silhouette: float) -> dict[str, Any]:
    """Every figure of the report as a data URI, keyed as the template uses them."""
    out: dict[str, Any] = {
        axis.name: {
            "silhouette": uri(plots.silhouette_plot(axis.model, min_silhouette)),
            "sizes": uri(plots.sizes_plot(axis.model)),
            "heatmap": uri(plots.heatmap(axis.model)),
        }
        for axis in data.axes
    }
    if data.archetypes:
        out["archetypes"] = uri(
            plots.bar_plot(
                [f"{a['id']}  {a['label']}" for a in data.archetypes],
                [a["customers"] for a in data.archetypes],
                "customers",
            )
        )
    if data.drift.get("baselines"):
        out["alerts"] = uri(plots.alerts_plot(data.drift["baselines"]))
    if data.flows:
        out["flows"] = uri(
            plots.bar_plot(
                [f"{f['from']} → {f['to']}" for f in data.flows],
                [f["customers"] for f in data.flows],
                "customers",
                "#7a5aa5",
            )
        )
    if data.rejects:
        out["rejects"] = uri(
            plots.bar_plot(
                [f"{r['kind']}: {r['reason']}" for r in data.rejects],
                [r["lines"] for r in data.rejects],
                "lines",
                "#a5461b",
            )
        )
    return out


def render(data: ReportData, min_silhouette: float) -> str:
    """The report as an HTML string. Names and interpretations may come from an LLM: autoescape is on."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    # Read through importlib.resources so the template also loads from a wheel on --py-files.
    template = env.from_string(files("segspark.report").joinpath("report.html.j2").read_text(encoding="utf-8"))
    return template.render(data=data, figures=figures(data, min_silhouette), version=__version__)
