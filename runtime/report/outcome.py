"""Sections about what the run produced: lineage, retention and size, gates, all metrics."""

from __future__ import annotations

import json

from forgelang.humanize import human_bytes
from runtime.report import charts
from runtime.report.data import RunData, finite
from runtime.report.format import number
from runtime.report.graph_chart import Node, dag
from runtime.report.sections import MAX_GRAPH_NODES, Section, Table

DETAILS_CHARS = 160  # a model's lineage details (JSON) shown in a table cell, cut here


def lineage(data: RunData) -> Section | None:
    """The final models and every model they were made from, as a graph and a table."""
    nodes: dict[int, dict] = {}
    edges: list[tuple[str, str]] = []
    for tree in data.lineage:
        _flatten(tree, nodes, edges)
    if not nodes:
        return None
    ordered = sorted(nodes.values(), key=lambda m: m["id"])
    charts_ = []
    if len(ordered) <= MAX_GRAPH_NODES:
        boxes = [Node(str(m["id"]), f"{m['phase']} / {m['role']}\n{str(m['sha256'])[:12]}",
                      "completed" if m["run_id"] == data.run_id else "cached") for m in ordered]
        charts_.append(dag("", boxes, edges))
    rows = [[str(m["id"]), m["phase"], m["kind"], m["role"], str(m["sha256"])[:16],
             _count(m["params"]), human_bytes(finite(m["size_bytes"])),
             number(finite(m["metrics"].get("accuracy"))), m["run_id"], _details(m)]
            for m in ordered]
    table = Table(["model", "phase", "kind", "role", "sha256", "params", "size", "accuracy",
                   "run", "details"], rows)
    note = ("The run's final models and, recursively, the models each was made from; an "
            "arrow runs from a parent to its child. Blue boxes come from an earlier run "
            "(a cached phase).")
    return Section("lineage", "Lineage of the final model", note, charts_, [table])


def _flatten(tree: dict, nodes: dict[int, dict], edges: list[tuple[str, str]]) -> None:
    if tree["id"] in nodes:
        return
    nodes[tree["id"]] = tree
    for parent in tree["parents"]:
        edges.append((str(parent["id"]), str(tree["id"])))
        _flatten(parent, nodes, edges)


def _details(model: dict) -> str:
    details = model.get("details") or {}
    if not details:
        return ""
    text = json.dumps(details, sort_keys=True, default=str)
    return text if len(text) <= DETAILS_CHARS else text[:DETAILS_CHARS] + "..."


def retention_and_size(data: RunData) -> Section | None:
    """Cumulative retention and size on disk across the phases, as waterfalls."""
    rows = [(p["name"], _output_metrics(p)) for p in data.done_phases() if p["models"]]
    if not rows:
        return None
    found = []
    kept = [(name, finite(m.get("cumulative_retention"))) for name, m in rows]
    kept = [(name, v) for name, v in kept if v is not None]
    if kept:
        found.append(charts.waterfall("cumulative retention", ("start", 1.0), kept,
                                      "accuracy kept (x of first)"))
    sizes = [(name, finite(m.get("disk_bytes"))) for name, m in rows]
    sizes = [(name, v) for name, v in sizes if v is not None]
    if len(sizes) >= 2:
        found.append(charts.waterfall("size on disk", sizes[0], sizes[1:], "MiB", unit=2**20))
    table = Table(["phase", "accuracy", "retention", "cumulative retention", "disk", "params"],
                  [[name, number(finite(m.get("accuracy"))), number(finite(m.get("retention"))),
                    number(finite(m.get("cumulative_retention"))),
                    human_bytes(finite(m.get("disk_bytes"))), _count(m.get("params"))]
                   for name, m in rows])
    note = ("Retention is a phase's accuracy over its input's; the cumulative figure is over "
            "the first phase's output. Sizes are the phase's output on disk (its largest "
            "model when it made several); green bars go up, red bars down.")
    return Section("retention", "Retention and size across phases", note, found, [table])


def _output_metrics(phase: dict) -> dict:
    """The phase's metrics with those of its largest output model on top."""
    largest = max(phase["models"], key=lambda m: finite(m["size_bytes"]) or 0)
    return {**phase["metrics"], **largest["metrics"]}


def _count(value) -> str:
    value = finite(value)
    return "-" if value is None else f"{value:,.0f}"


def gates(data: RunData) -> Section | None:
    """Every gate verdict of the run."""
    verdicts = data.run["gates"]
    if not verdicts:
        return None
    rows = [[g["phase"], g["expression"], number(finite(g["value"])),
             number(finite(g["threshold"])), "passed" if g["passed"] else "FAILED", g["action"],
             g["message"]] for g in verdicts]
    table = Table(["after phase", "gate", "value", "threshold", "verdict", "on fail",
                   "message"], rows)
    return Section("gates", "Gates and verdicts", "", [], [table])


def all_metrics(data: RunData) -> Section | None:
    """Every final metric of every phase and its models, one table per phase."""
    tables = []
    for phase in data.done_phases():
        rows = [[name, "phase", number(finite(v))] for name, v in phase["metrics"].items()]
        for model in phase["models"]:
            label = f"model {model['id']} ({model['role']})"
            rows += [[name, label, number(finite(v))] for name, v in model["metrics"].items()]
        if rows:
            tables.append(Table(["metric", "of", "value"], rows, caption=phase["name"]))
    if not tables:
        return None
    return Section("metrics", "All final metrics", "", [], tables, collapsed=True)
