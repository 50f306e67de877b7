"""The report in a real browser (headless Chromium): no console errors, no network,
every chart rendered; a screenshot is saved. Skipped, saying why, without Chromium.

The fast test loads a hand-written run holding every section (a Pareto front and
compression stages included); ``test_report_smoke_browser.py`` (slow tier) does the
same for a real smoke run.
"""

from __future__ import annotations

from browser_check import assert_rendered, browser, screenshot
from report_runs import write_run

from runtime.commands_report import report


def test_every_chart_renders_in_chromium(tmp_path):
    browser()  # skip early, before any work, when Chromium is missing
    write_run(tmp_path / "ws", "run-1")
    page = tmp_path / "report.html"
    assert report(workspace=tmp_path / "ws", out=page) == 0
    seen = assert_rendered(page, tmp_path)
    assert len(seen["charts"]) >= 10  # graph, 2 estimates, 2 losses, 3 evolution, ...
    shot = screenshot(page, tmp_path / "report.png", tmp_path)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
