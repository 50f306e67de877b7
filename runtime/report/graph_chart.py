"""Directed acyclic graphs as charts: the plan's phase graph and a model's lineage.

Nodes are laid out left to right in layers (a node's layer is the longest path to it
from a root), drawn as labelled boxes with arrows from each input to its consumer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runtime.report.charts import PALETTE, _rc, figure, to_svg

STATUS_COLORS = {"completed": "#d8ecd9", "cached": "#dbe6f4", "failed": "#f4d6d6",
                 "interrupted": "#f6e7c8", "running": "#f6e7c8", "not run": "#eeeeee"}


@dataclass(frozen=True)
class Node:
    """A box in the graph: its key, its text (lines) and its status (the fill colour)."""

    key: str
    label: str
    status: str = "completed"


def layers(nodes: Sequence[Node], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Each node's layer: 0 for a root, else 1 + the deepest of its inputs (cycles and
    edges to unknown nodes are ignored: the graph comes from an untrusted registry)."""
    keys = {n.key for n in nodes}
    inputs: dict[str, list[str]] = {k: [] for k in keys}
    for src, dst in edges:
        if src in keys and dst in keys and src != dst:
            inputs[dst].append(src)
    depth: dict[str, int] = {}

    def visit(key: str, path: frozenset) -> int:
        if key not in depth:
            parents = [p for p in inputs[key] if p not in path]
            depth[key] = 1 + max((visit(p, path | {key}) for p in parents), default=-1)
        return depth[key]

    for n in nodes:
        visit(n.key, frozenset())
    return depth


def dag(title: str, nodes: Sequence[Node], edges: Sequence[tuple[str, str]]) -> str:
    """The graph as an SVG chart."""
    depth = layers(nodes, edges)
    columns: dict[int, list[Node]] = {}
    for n in nodes:
        columns.setdefault(depth[n.key], []).append(n)
    tallest = max((len(c) for c in columns.values()), default=1)
    width = min(12.0, max(5.0, 1.9 * len(columns)))
    fig, (ax,) = figure(width=width, height=max(1.1, 0.7 * tallest + 0.4))
    where = {}
    for col, members in columns.items():
        for row, n in enumerate(members):
            where[n.key] = (col, (tallest - 1) / 2 - row + (len(members) - 1) / 2)
    with _rc():
        boxes = {n.key: ax.text(*where[n.key], n.label, ha="center", va="center", fontsize=8,
                                bbox={"boxstyle": "round,pad=0.4", "edgecolor": "#777777",
                                      "facecolor": STATUS_COLORS.get(n.status, "#ffffff")})
                 for n in nodes}
        for src, dst in edges:
            if src in boxes and dst in boxes and src != dst:
                # from the right edge of the input's text to the left edge of its consumer's,
                # shrunk by the box padding, so the arrow head shows
                ax.annotate("", xy=(0, 0.5), xycoords=boxes[dst], xytext=(1, 0.5),
                            textcoords=boxes[src],
                            arrowprops={"arrowstyle": "-|>", "color": PALETTE[7],
                                        "shrinkA": 6, "shrinkB": 6})
        ax.set_xlim(-0.6, max(columns, default=0) + 0.6)
        ax.set_ylim(-0.6, tallest - 0.4)
        ax.set_title(title, fontsize=10, loc="left")
        ax.axis("off")
    return to_svg(fig)
