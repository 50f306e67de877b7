"""The report's sections, each built from a ``RunData`` or skipped when its data is absent.

A section is data for the template: a title, a short note, charts (inline SVG made by
``charts``) and tables (rows of plain strings the template escapes). Each builder
returns ``None`` when the run has nothing for it, so a run of the first phases alone
makes a shorter report, never an empty chart. Sections that later phases add are found
by metric-name prefix (``prefixed.py``), not by phase kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from forgelang.humanize import human_bytes
from runtime.report import charts
from runtime.report.data import RunData, Series, finite
from runtime.report.format import seconds_text
from runtime.report.graph_chart import Node, dag

MAX_GRAPH_NODES = 60  # a plan has 8 phases; more boxes than this make an unreadable chart
LOSS_BASES = ("loss",)  # the curves drawn as training loss: "loss" and "loss.<stage>"


@dataclass
class Table:
    """A table of plain text cells (escaped by the template)."""

    headers: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class Section:
    """One part of the report."""

    key: str  # the HTML id
    title: str
    note: str = ""
    charts: list[str] = field(default_factory=list)  # inline SVG markup from matplotlib
    tables: list[Table] = field(default_factory=list)
    collapsed: bool = False  # shown as a closed <details> (long tables)


def phase_graph(data: RunData) -> Section | None:
    """The plan's phases and their inputs, coloured by what happened in this run."""
    steps = data.plan_steps()
    if not steps or len(steps) > MAX_GRAPH_NODES:
        return None
    status = {p["name"]: p["status"] for p in data.run["phases"]}
    nodes = []
    for s in steps:
        state = status.get(s["name"], "not run")
        kind = str(s.get("kind", "?"))
        label = s["name"] if kind == s["name"] else f"{s['name']}\n{kind}"
        nodes.append(Node(s["name"], f"{label}\n{state}", state))
    edges = [(str(i), s["name"]) for s in steps for i in _inputs(s)]
    note = ("Each box is a phase of the resolved plan (name, kind, status in this run); "
            "arrows run from a phase's input to the phase.")
    return Section("graph", "Phase graph", note, [dag("", nodes, edges)])


def _inputs(step: dict) -> list:
    inputs = step.get("inputs")
    return [i for i in inputs if isinstance(i, str)] if isinstance(inputs, list) else []


def estimates(data: RunData) -> Section | None:
    """Per phase: what ``forge plan`` estimated against what the run measured."""
    phases = [p for p in data.run["phases"] if p["measured"]["seconds"] is not None]
    if not phases:
        return None
    chart = charts.estimate_vs_measured([str(p["name"]) for p in phases],
                                        [_figures(p["estimate"]) for p in phases],
                                        [_figures(p["measured"]) for p in phases])
    rows = [[p["name"], p["kind"], p["status"],
             seconds_text(finite(p["estimate"].get("seconds"))),
             seconds_text(p["measured"]["seconds"]), _ratio(p["ratio"]["seconds"]),
             human_bytes(finite(p["estimate"].get("peak_memory_bytes"))),
             human_bytes(p["measured"]["peak_memory_bytes"]),
             _ratio(p["ratio"]["peak_memory_bytes"])] for p in phases]
    table = Table(["phase", "kind", "status", "time est", "time measured", "measured/est",
                   "memory est", "memory measured", "measured/est"], rows)
    note = ("A cached phase shows what the run it reuses measured. Peak memory is what the "
            "phase runner measured for the phase.")
    return Section("estimates", "Estimate against measured", note, [chart], [table])


def _figures(found: dict) -> dict[str, float | None]:
    """Seconds and peak memory as finite numbers or None (the registry is untrusted)."""
    return {k: finite(found.get(k)) for k in ("seconds", "peak_memory_bytes")}


def _ratio(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def training_curves(data: RunData) -> Section | None:
    """Every phase's loss curves (per stage, per model), one chart per phase."""
    out = []
    for phase in data.done_phases():
        curves = [s for s in data.series.get(phase["name"], []) if _is_loss(s)]
        if curves:
            out.append(charts.lines(f"{phase['name']} ({phase['kind']})", curves, "loss",
                                    logy=True))
    if not out:
        return None
    note = (f"Per-step training loss as each phase recorded it; at most {charts.MAX_LINES} "
            "curves per chart. Curves of a model carry its role.")
    return Section("training", "Training loss", note, out)


def _is_loss(series: Series) -> bool:
    base = series.name.split(".", 1)[0]
    return base in LOSS_BASES


def evolution(data: RunData) -> list[Section]:
    """EvoMerge-style search: per-generation fitness and diversity and the technique mix,
    for every phase that recorded ``generation.*`` or ``technique.*`` curves."""
    out = []
    for index, phase in enumerate(data.done_phases()):
        series = data.series.get(phase["name"], [])
        gens = [s for s in series if s.name.startswith("generation.") and
                s.name != "generation.injected"]
        techniques = [s for s in series if s.name.startswith("technique.")]
        found = []
        if gens:
            fitness = [s for s in gens if "diversity" not in s.name]
            diversity = [s for s in gens if "diversity" in s.name]
            found.append(charts.lines("fitness per generation", fitness, "fitness",
                                      xlabel="generation"))
            if diversity:
                found.append(charts.lines("diversity per generation", diversity, "diversity",
                                          xlabel="generation"))
        if techniques:
            found.append(_technique_mix(techniques))
        if found:
            note = "Fitness and diversity of each generation, and which merge techniques made it."
            out.append(Section(f"evolution-{index}", f"Evolution: {phase['name']}", note,
                               found))
    return out


def _technique_mix(techniques: list[Series]) -> str:
    generations = sorted({step for s in techniques for step in s.steps})
    stacks = {}
    for s in techniques:
        by_step = dict(zip(s.steps, s.values, strict=True))
        stacks[s.name.split(".", 1)[1]] = [by_step.get(g, 0.0) for g in generations]
    return charts.stacked_bars("techniques per generation", [str(g) for g in generations],
                               stacks, "generation", "candidates")
