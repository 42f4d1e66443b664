"""Open a segspark report in headless Chromium, screenshot it, and fail on console errors or broken images.

    python scripts/check_report.py warehouse/reports/<run_id>/index.html [--screenshot out.png]

Uses Debian's chromium (/usr/bin/chromium, or $CHROMIUM) driven by playwright; nothing is downloaded.
Exit codes: 0 the page is clean, 1 a problem was found (each printed), 3 no browser to check with.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

# Chromium's own background traffic would hit the closed network; these flags keep it quiet.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str | None:
    """The browser to use: $CHROMIUM, else chromium on PATH."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def check(html: Path, screenshot: Path) -> list[str]:
    """Render the page; return the problems found (empty when clean)."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url[:80]}"))
        page.goto(html.resolve().as_uri(), wait_until="load")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => ({alt: e.alt, ok: e.complete && e.naturalWidth > 0, w: e.naturalWidth}))"
        )
        if not images:
            problems.append("the page has no images")
        problems += [f"image not shown: {img['alt']}" for img in images if not img["ok"]]
        external = page.eval_on_selector_all("[src]", "els => els.map(e => e.getAttribute('src'))")
        problems += [f"not self-contained: {src[:60]}" for src in external if not src.startswith("data:")]
        page.screenshot(path=str(screenshot), full_page=True)
        print(f"{len(images)} images, all shown: {all(i['ok'] for i in images)}; screenshot {screenshot}")
        browser.close()
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("html", type=Path)
    parser.add_argument("--screenshot", type=Path, help="PNG to write (default: next to the report)")
    args = parser.parse_args()
    if chromium() is None:
        print("no chromium found: install Debian's chromium package (apt-get install chromium)", file=sys.stderr)
        return 3
    problems = check(args.html, args.screenshot or args.html.with_name("screenshot.png"))
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
