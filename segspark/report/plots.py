"""The report's figures (matplotlib's object API: no pyplot state, no display needed).

Each function returns a Figure; `data_uri` embeds one in HTML and `png` gives its bytes (notebooks).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from segspark.model.manifest import AxisModel

DPI = 110
_ALERT_COLOURS = {"STABLE": "#4c9a6a", "MODERATE_DRIFT": "#e0a030", "RAPID_DRIFT": "#c8413b"}


def png(fig: Figure) -> bytes:
    """Render a figure to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def data_uri(fig: Figure) -> str:
    """Render a figure to a base64 PNG data URI."""
    return "data:image/png;base64," + base64.b64encode(png(fig)).decode("ascii")


def _short(text: str, width: int = 38) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def silhouette_plot(axis: AxisModel, min_silhouette: float) -> Figure:
    """Silhouette against k, the chosen k marked and the warning threshold dashed."""
    ks = sorted(int(k) for k in axis.silhouette_by_k)
    values = [axis.silhouette_by_k[str(k)] for k in ks]
    fig = Figure(figsize=(3.6, 2.4))
    ax = fig.add_subplot()
    ax.plot(ks, values, marker="o", color="#3b6ea5")
    ax.scatter([axis.k], [axis.silhouette_by_k[str(axis.k)]], s=120, facecolors="none", edgecolors="#c8413b", zorder=3)
    ax.axhline(min_silhouette, linestyle="--", color="#999999", linewidth=1)
    ax.set_xticks(ks)
    ax.set_xlabel("k")
    ax.set_ylabel("silhouette")
    ax.set_title(f"chosen k = {axis.k}", fontsize=9)
    return fig


def sizes_plot(axis: AxisModel) -> Figure:
    """Customers per segment (of the fit population)."""
    fig = Figure(figsize=(4.2, 0.45 * axis.k + 0.8))
    ax = fig.add_subplot()
    y = np.arange(axis.k)
    ax.barh(y, axis.sizes, color="#3b6ea5")
    ax.set_yticks(y, [_short(n, 30) for n in axis.names], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("customers")
    return fig


def heatmap(axis: AxisModel) -> Figure:
    """Segment centres as z-scores (after each feature's transform), annotated."""
    z = np.asarray(axis.centers_scaled, dtype=float)
    fig = Figure(figsize=(1.1 * len(axis.features) + 2.8, 0.5 * axis.k + 1.4))
    ax = fig.add_subplot()
    bound = max(float(np.nanmax(np.abs(z))), 0.5)
    image = ax.imshow(z, cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto")
    ax.set_xticks(
        np.arange(len(axis.features)), [_short(f, 22) for f in axis.features], rotation=30, ha="right", fontsize=8
    )
    ax.set_yticks(np.arange(axis.k), [_short(n, 30) for n in axis.names], fontsize=8)
    for (i, j), value in np.ndenumerate(z):
        ax.text(
            j,
            i,
            f"{value:+.2f}",
            ha="center",
            va="center",
            fontsize=7,
            color="white" if abs(value) > 0.6 * bound else "black",
        )
    fig.colorbar(image, ax=ax, label="z-score")
    return fig


def bar_plot(labels: Sequence[str], values: Sequence[float], xlabel: str, colour: str = "#3b6ea5") -> Figure:
    """A horizontal bar chart, largest first as given."""
    fig = Figure(figsize=(6.4, 0.34 * len(labels) + 0.9))
    ax = fig.add_subplot()
    y = np.arange(len(labels))
    ax.barh(y, values, color=colour)
    ax.set_yticks(y, [_short(str(label), 70) for label in labels], fontsize=7)
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts
    ax.set_xlabel(xlabel)
    return fig


def alerts_plot(baselines: dict[str, Any]) -> Figure:
    """Customers per alert level for every baseline, stacked."""
    dates = sorted(baselines)
    fig = Figure(figsize=(6.4, 0.38 * len(dates) + 1.2))
    ax = fig.add_subplot()
    y = np.arange(len(dates))
    left = np.zeros(len(dates))
    for level, colour in _ALERT_COLOURS.items():
        values = np.array([baselines[d]["alerts"].get(level, 0) for d in dates], dtype=float)
        ax.barh(y, values, left=left, color=colour, label=level)
        left += values
    ax.set_yticks(y, [f"vs {d}" for d in dates], fontsize=8)
    ax.set_xlabel("customers")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig
