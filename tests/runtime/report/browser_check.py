"""Load a report in headless Chromium and say what the browser saw.

No browser-automation library: a copy of the page gets a probe script at the top of
its <head> that records uncaught errors, ``console.error`` calls and every resource the
page fetched, and on ``load`` measures each chart's rendered SVG (its box and how many
of its shapes have a non-empty bounding box). ``chromium --dump-dom`` prints the DOM
after the load, with the probe's findings as JSON in ``<pre id="forge-probe">``.
Chromium's own log of console messages (stderr) is checked as well.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
INSTALL = "apt-get install -y --no-install-recommends chromium"
TIMEOUT_S = 180  # a cold start on a loaded 2-core machine takes tens of seconds
PROBE = """<script>
window.__forge = {errors: []};
window.addEventListener("error", (e) => window.__forge.errors.push(
  String(e.message || (e.target && (e.target.src || e.target.href)) || "error")), true);
const forgeConsoleError = console.error;
console.error = (...args) => { window.__forge.errors.push(args.join(" "));
                               forgeConsoleError(...args); };
window.addEventListener("load", () => {
  const charts = [...document.querySelectorAll("figure.chart")].map((figure) => {
    const svg = figure.querySelector("svg");
    if (!svg) return {width: 0, height: 0, shapes: 0};
    const box = svg.getBoundingClientRect();
    const drawn = [...svg.querySelectorAll("path, rect, text, use, line, polygon")]
      .filter((e) => { const b = e.getBBox(); return b.width > 0 || b.height > 0; });
    return {width: box.width, height: box.height, shapes: drawn.length};
  });
  const report = {errors: window.__forge.errors, charts: charts,
                  resources: performance.getEntriesByType("resource").map((r) => r.name)};
  const out = document.createElement("pre");
  out.id = "forge-probe";
  out.textContent = JSON.stringify(report);
  document.body.appendChild(out);
});
</script>"""
_FOUND = re.compile(r'<pre id="forge-probe">(.*?)</pre>', re.S)


def browser() -> str:
    """The Chromium executable, or skip the test saying why and how to install it."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"headless Chromium is not installed, so the report's browser test cannot "
                f"run; on Debian: {INSTALL}")


def _flags(profile: Path) -> list[str]:
    return ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: any network fetch fails
            "--enable-logging=stderr", "--v=0"]


def probe(page: Path, work: Path) -> tuple[dict, list[str]]:
    """Load ``page`` with the probe; returns (the probe's JSON, Chromium's console lines)."""
    text = page.read_text(encoding="utf-8")
    probed = work / f"probed-{page.name}"
    probed.write_text(text.replace("<head>", "<head>\n" + PROBE, 1), encoding="utf-8")
    done = subprocess.run([browser(), *_flags(work / "profile-dom"),
                           "--virtual-time-budget=10000", "--dump-dom", probed.as_uri()],
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    found = _FOUND.search(done.stdout)
    assert found, f"the probe did not report (chromium exit {done.returncode}): " \
                  f"{done.stderr[-2000:]}"
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return json.loads(html.unescape(found.group(1))), console


def screenshot(page: Path, out: Path, work: Path, width: int = 1200,
               height: int = 6000) -> Path:
    """A full-width screenshot of ``page`` (PNG) at ``out``."""
    subprocess.run([browser(), *_flags(work / "profile-shot"), f"--window-size={width},{height}",
                    f"--screenshot={out}", page.as_uri()],
                   capture_output=True, text=True, timeout=TIMEOUT_S, check=True)
    return out


def assert_rendered(page: Path, work: Path) -> dict:
    """The page loaded offline with no error and every chart drew something."""
    seen, console = probe(page, work)
    assert seen["errors"] == [], seen["errors"]
    assert console == [], console  # the report has no script: any console message is wrong
    assert seen["resources"] == [], f"the page fetched {seen['resources']}"
    charts = page.read_text(encoding="utf-8").count('<figure class="chart">')
    assert len(seen["charts"]) == charts > 0
    for i, chart in enumerate(seen["charts"]):
        assert chart["width"] > 100 and chart["height"] > 50, (i, chart)
        # a blank figure draws 1 shape (its background); the smallest real chart here, a
        # lineage of two boxes and an arrow, draws 9
        assert chart["shapes"] >= 5, (i, chart)
    return seen
