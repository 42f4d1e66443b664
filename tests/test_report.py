"""The HTML report: what it shows, that it is self-contained and escaped, and that a browser renders it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from segspark.report.data import ReportData, archetype_label, archetype_moves
from segspark.report.render import render
from segspark.report.step import write_report
from tests.conftest import REPO
from tests.hand_model import hand_manifest

NEEDS_CHROMIUM = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian's chromium is not installed (make test installs it)"
)


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.srcs.append(dict(attrs)["src"] or "")
        self.scripts += tag == "script"


def _data() -> ReportData:
    manifest = hand_manifest()
    manifest.axes["freq"].names[1] = "<script>alert(1)</script>"  # an LLM-made name must not become markup
    manifest.axes["freq"].warnings = ["best silhouette 0.200 (k=3) is below min_silhouette 0.3"]
    manifest.skipped_axes = {"support_history": "no tickets table"}
    data = ReportData("r1", "2024-01-01", manifest, customers=40)
    data.archetypes = [{"id": "x", "customers": 25, "label": "segment 0 + segment 0"}]
    alerts = {"STABLE": 20, "RAPID_DRIFT": 10}
    data.drift = {
        "baselines": {
            "2023-12-25": {
                "customers": 30,
                "migrated": 4,
                "alerts": alerts,
                "churn": {"HIGH": 2},
                "top_moves": [],
                "offset": 7,
                "days_elapsed": 8,
                "across_refit": {"from_model": "m-old", "to_model": "m-hand", "customers": 30},
            }
        }
    }
    data.flows = [{"baseline": "2023-12-25", "from": "x", "to": "y", "customers": 4, "moves": ["freq: a → b"]}]
    data.churn = [
        {
            "customer_id": "C42",
            "baseline_date": "2023-12-25",
            "velocity": 0.02,
            "alert": "RAPID_DRIFT",
            "from_archetype": "x",
            "to_archetype": "y",
        }
    ]
    data.rejects = [{"kind": "malformed", "reason": "negative_price", "lines": 7}]
    return data


def test_report_shows_every_section_and_embeds_every_figure() -> None:
    html = render(_data(), min_silhouette=0.3)
    parser = _Images()
    parser.feed(html)
    # 3 per axis (silhouette, sizes, heatmap) x 2 axes + archetypes, alerts, flows, rejects.
    assert len(parser.srcs) == 10
    assert all(src.startswith("data:image/png;base64,") and len(src) > 2_000 for src in parser.srcs)
    assert parser.scripts == 0
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    for text in (
        "no tickets table",
        "below min_silhouette",
        "negative_price",
        "C42",
        "freq: a → b",
        "RAPID_DRIFT",
        "7 / 8",
        "across a refit: m-old → m-hand, 30 customers",
    ):
        assert text in html, text
    assert re.search(r"<td>freq</td>|href=\"#axis-freq\"", html)


def test_report_shows_a_scheduled_runs_decisions() -> None:
    data = _data()
    data.manifest.refit_reason = ["model is 4.0 weeks old (refit_every_weeks=4)"]
    data.manifest.previous_model = "m-old"
    data.schedule = {
        "as_of": "2024-01-01",
        "policy": "refit every 4 weeks, on an axis's PSI above 0.25 or its silhouette falling more than 0.1 (0: off)",
        "inputs": [
            {"input": "w1.csv", "valid": 9, "rows_read": 10, "already_ingested_by": None, "replaced": ["w1.csv"]},
            {"input": "w0.csv", "valid": 0, "rows_read": 0, "already_ingested_by": "r7", "replaced": []},
        ],
        "refit": ["model is 4.0 weeks old (refit_every_weeks=4)"],
        "health": {
            "weeks_since_fit": 4.0,
            "psi": {"freq": 0.031},
            "silhouette_now": {"freq": 0.5},
            "silhouette_fit": {"freq": 0.6},
            "notes": [],
        },
        "baselines": [
            {"offset": 7, "target": "2023-12-25", "used": "2023-12-25", "days": 7, "reason": ""},
            {"offset": 60, "target": "2023-11-02", "used": "2023-11-08", "days": 54, "reason": ""},
            {
                "offset": 180,
                "target": "2023-07-05",
                "used": None,
                "days": None,
                "reason": "2023-07-05 is not after the source's first order (2023-08-01): no customer existed yet",
            },
        ],
        "computed": ["2023-11-08"],
        "drift_skipped": "",
    }
    html = render(data, min_silhouette=0.3)
    for text in (
        "Scheduled run of 2024-01-01",
        "Refitted in this run</strong> because: model is 4.0 weeks old",
        "Segments matched to m-old kept their ids and names",
        "corrects w1.csv",
        "already ingested (run r7)",
        "computed from order history in this run",
        "not after the source&#39;s first order",
        "0.031",
        "PSI above 0.25",
    ):
        assert text in html, text


def test_report_without_drift_or_rejects_says_so() -> None:
    data = _data()
    data.drift, data.flows, data.churn, data.rejects = {}, [], [], []
    data.notes.append("No drift for 2024-01-01")
    html = render(data, min_silhouette=0.3)
    assert "No drift for 2024-01-01" in html and "No line was quarantined." in html
    parser = _Images()
    parser.feed(html)
    assert len(parser.srcs) == 7


def test_archetype_labels_and_moves_name_segments() -> None:
    m = hand_manifest()
    assert archetype_label(m, "freq_s1|value_s0") == "segment 1 + segment 0"
    assert archetype_moves(m, "freq_s1|value_s0", "freq_s1|value_s1") == ["value: segment 0 → segment 1"]
    assert archetype_moves(m, "freq_s1|value_s0", None) == []


def test_report_is_written_atomically_under_reports(tmp_path: Path) -> None:
    path = write_report(str(tmp_path), "r1", "<html></html>")
    assert path == str(tmp_path / "reports" / "r1" / "index.html")
    assert [p.name for p in (tmp_path / "reports" / "r1").iterdir()] == ["index.html"]


@NEEDS_CHROMIUM
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    path = Path(write_report(str(tmp_path), "r1", render(_data(), min_silhouette=0.3)))
    shot = tmp_path / "shot.png"
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "check_report.py"), str(path), "--screenshot", str(shot)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "10 images, all shown: True" in out.stdout
    assert shot.stat().st_size > 50_000


@NEEDS_CHROMIUM
def test_browser_check_fails_on_a_broken_image(tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    page.write_text('<html><body><img alt="gone" src="missing.png"><script>nosuch()</script></body></html>')
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "check_report.py"), str(page)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    assert "image not shown: gone" in out.stderr and "page error" in out.stderr
    assert "not self-contained: missing.png" in out.stderr
