"""Sections that later phases add, found by metric-name prefix rather than by phase kind.

- ``FrontSection``: a Pareto front. Points come from metrics ``<front>.<i>.<objective>``
  (``i`` an integer) or from curves ``<front>.<objective>`` whose step is the point's
  index; evaluated points likewise under ``<evaluated>``. Every final metric under the
  section's prefixes is listed too, so a phase that records only summaries
  (``pareto.size``, ``pareto.spread.accuracy``) still gets its table.
- ``StageTable``: one row per stage from metrics ``<base>.<stage>[.<rest>]`` where
  ``base`` is an anchor (e.g. ``bits_per_weight.vptq``), a column per base found.

A run without such metrics gets no such section.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.report import charts
from runtime.report.data import RunData, finite
from runtime.report.format import number
from runtime.report.sections import Section, Table


@dataclass(frozen=True)
class FrontSection:
    """A Pareto front chart and the summary metrics under some prefixes."""

    key: str
    title: str
    front: str  # e.g. "pareto."
    evaluated: str  # e.g. "nsga2."
    listed: tuple[str, ...]  # prefixes whose final metrics the table lists


@dataclass(frozen=True)
class StageTable:
    """A table with a row per stage, from ``<anchor>.<stage>`` metrics."""

    key: str
    title: str
    anchors: tuple[str, ...]  # bases that make a row, e.g. "bits_per_weight"
    extra: tuple[str, ...] = ()  # bases shown as columns for those rows only ("retention")


PARETO = FrontSection("pareto", "Pareto front", "pareto.", "nsga2.",
                      ("pareto.", "nsga2.", "mixing."))
COMPRESSION = StageTable("compression", "Compression by stage",
                         ("stage", "bits_per_weight", "compression_ratio",
                          "reconstruction_error"), ("retention",))
PREFIX_SECTIONS = (PARETO, COMPRESSION)


def final_metrics(phase: dict) -> dict[str, float]:
    """A phase's final metrics, then its models' (the first model's value wins a clash)."""
    out = dict(phase["metrics"])
    for model in reversed(phase["models"]):
        out.update(model["metrics"])
    return {k: v for k, v in out.items() if finite(v) is not None}


def build(data: RunData) -> list[Section]:
    """Every prefix section the run's metrics call for, per phase, in plan order."""
    out = []
    for index, phase in enumerate(data.done_phases()):
        for spec in PREFIX_SECTIONS:
            maker = front_section if isinstance(spec, FrontSection) else stage_section
            section = maker(spec, data, phase, index)
            if section is not None:
                out.append(section)
    return out


def front_section(spec: FrontSection, data: RunData, phase: dict, index: int):
    """The front chart (when points were recorded) and the listed metrics (when any)."""
    metrics = final_metrics(phase)
    listed = [[k, number(v)] for k, v in metrics.items() if k.startswith(spec.listed)]
    front = points(spec.front, metrics, data.series.get(phase["name"], []))
    evaluated = points(spec.evaluated, metrics, data.series.get(phase["name"], []))
    axes = _objectives(front) or _objectives(evaluated)
    found = []
    if axes:
        x, y = axes
        found.append(charts.scatter("", _pairs(evaluated, x, y), x, y, _pairs(front, x, y)))
    if not (found or listed):
        return None
    tables = [Table(["metric", "value"], listed)] if listed else []
    note = "" if found else "This phase recorded no front points as metrics; its summary follows."
    return Section(f"{spec.key}-{index}", f"{spec.title}: {phase['name']}", note, found, tables)


def points(prefix: str, metrics: dict, series) -> dict[int, dict[str, float]]:
    """Points by index: ``{i: {objective: value}}`` from metrics and curves under ``prefix``."""
    out: dict[int, dict[str, float]] = {}
    for name, value in metrics.items():
        if name.startswith(prefix):
            head, _, objective = name[len(prefix):].partition(".")
            if head.isdigit() and objective:
                out.setdefault(int(head), {})[objective] = value
    for s in series:
        if s.name.startswith(prefix) and s.model is None:
            objective = s.name[len(prefix):]
            for step, value in zip(s.steps, s.values, strict=True):
                out.setdefault(step, {})[objective] = value
    return out


def _objectives(pts: dict[int, dict[str, float]]) -> tuple[str, str] | None:
    """The first two objectives that every point has, or None."""
    if not pts:
        return None
    common = [k for k in next(iter(pts.values())) if all(k in p for p in pts.values())]
    return (common[0], common[1]) if len(common) >= 2 else None


def _pairs(pts: dict[int, dict[str, float]], x: str, y: str) -> list[tuple[float, float]]:
    return [(p[x], p[y]) for _, p in sorted(pts.items()) if x in p and y in p]


def stage_section(spec: StageTable, data: RunData, phase: dict, index: int):
    """One row per stage named by an anchor metric, one column per base."""
    metrics = final_metrics(phase)
    rows: dict[str, dict[str, float]] = {}
    for name, value in metrics.items():
        base, _, rest = name.partition(".")
        if base in spec.anchors and rest:
            stage, _, tail = rest.partition(".")
            rows.setdefault(stage, {})[f"{base}.{tail}" if tail else base] = value
    if not rows:
        return None
    for name, value in metrics.items():
        base, _, stage = name.partition(".")
        if base in spec.extra and stage in rows:
            rows[stage][base] = value
    columns = sorted({c for r in rows.values() for c in r})
    table = Table(["stage", *columns], [[stage, *(number(r.get(c)) for c in columns)]
                                        for stage, r in rows.items()])
    return Section(f"{spec.key}-{index}", f"{spec.title}: {phase['name']}", "", [], [table])
