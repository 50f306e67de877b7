"""The report as one self-contained HTML file: jinja2 with autoescape, charts inline."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from forgelang.humanize import human_bytes
from runtime.report import outcome, prefixed, sections
from runtime.report.data import RunData, finite
from runtime.report.format import seconds_text

TEMPLATE = "report.html.j2"
# In page order; each returns a Section, a list of them, or None when its data is absent.
BUILDERS = (sections.phase_graph, sections.estimates, sections.training_curves,
            sections.evolution, outcome.lineage, outcome.retention_and_size, outcome.gates,
            prefixed.build, outcome.all_metrics)


def build_sections(data: RunData) -> list[sections.Section]:
    """Every section this run has data for, in page order."""
    out = []
    for builder in BUILDERS:
        made = builder(data)
        if isinstance(made, list):
            out.extend(made)
        elif made is not None:
            out.append(made)
    return out


def render(data: RunData) -> str:
    """The report's HTML. Every registry string is escaped by jinja2's autoescape; only
    the charts' SVG (made by matplotlib, which escapes its text) is inserted as markup."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined
    from markupsafe import Markup

    from forgelang import __version__

    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    built = build_sections(data)
    for s in built:
        s.charts = [Markup(svg) for svg in s.charts]
    return env.get_template(TEMPLATE).render(run=data.run, facts=facts(data), sections=built,
                                             version=__version__)


def facts(data: RunData) -> list[tuple[str, str]]:
    """The header's label/value pairs."""
    run, plan = data.run, data.plan
    started, finished = finite(run["created_at"]), finite(run["finished_at"])
    done = len(data.done_phases())
    budget = plan.get("budget") if isinstance(plan.get("budget"), dict) else {}
    out = [("started", _when(started)), ("finished", _when(finished)),
           ("took", seconds_text(finished - started) if started and finished else "-"),
           ("phases", f"{done} of {len(data.plan_steps())} in the plan completed or cached"),
           ("recipe file", str(plan.get("source", "-"))), ("seed", str(plan.get("seed", "-"))),
           ("device", str(plan.get("device", "-"))),
           ("budget", f"{human_bytes(finite(budget.get('memory_bytes')))} memory, "
                      f"{seconds_text(finite(budget.get('seconds')))}")]
    return out


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def write_report(data: RunData, out: str | os.PathLike) -> Path:
    """Render and write the report to ``out`` atomically (a temporary file, then rename)."""
    out = Path(out)
    html = render(data)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
