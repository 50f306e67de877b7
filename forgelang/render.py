"""Plain-text rendering of plans for the terminal (ANSI colour only on a TTY).

Kept free of rich so that ``forge plan`` starts fast; ``forge apply`` uses rich.
"""

from __future__ import annotations

import os
import sys

from forgelang.data_label import SUITE_LABEL
from forgelang.humanize import human_bytes, human_count, human_seconds  # noqa: F401 (re-exported)
from forgelang.plan import Plan

SYMBOLS = {"run": "+", "cached": "=", "rerun": "~"}
_COLORS = {"+": "32", "=": "2", "~": "33", "warn": "33", "error": "31", "bold": "1"}


def use_color(stream=sys.stdout) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR")


def paint(text: str, style: str, color: bool) -> str:
    return f"\x1b[{_COLORS[style]}m{text}\x1b[0m" if color else text


def render_plan(plan: Plan, color: bool = False) -> str:
    """Terraform-like text: a line per phase with its action symbol, gates, totals."""
    t = plan.target
    lines = [paint(f"Plan for recipe \"{plan.recipe}\"", "bold", color),
             f"  device {plan.device}; estimates for profile `{t['name']}` "
             f"({human_count(t['peak_flops'] * t['efficiency'])}FLOP/s sustained, "
             f"{human_bytes(t['memory_bytes'])} memory, {t.get('source', 'default')})", ""]
    width = max((len(s.name) for s in plan.steps), default=5)
    own_data = any(s.data != SUITE_LABEL for s in plan.steps)  # then every step says its data
    for s in plan.steps:
        sym = SYMBOLS.get(s.action, "?")
        e = s.estimate
        row = (f"  {paint(sym, sym, color)} {s.name:<{width}}  {s.kind:<11} "
               f"params {human_count(e.params):>7}  mem {human_bytes(s.expected_memory):>10}  "
               f"flops {e.flops:9.2e}  time {human_seconds(s.expected_seconds):>8}  "
               f"disk {human_bytes(e.disk_bytes):>10}")
        note = " (cached)" if s.action == "cached" else f" ({s.reason})" if s.reason else ""
        lines.append(row + note)
        if s.forecast and s.action != "cached":
            lines.append(f"      {forecast_line(s)}")
        if s.inputs:
            lines.append(f"      <- {', '.join(_short(i) for i in s.inputs)}")
        if own_data:
            lines.append(f"      data {data_line(s)}")
    lines += _gate_lines(plan) + [""] + _summary(plan, color)
    return "\n".join(lines)


def forecast_line(step) -> str:
    """Where a step's time and memory come from: "time 2m41s (2m20s–3m05s, 4 earlier
    runs of this phase)", or that there is no history."""
    f, e = step.forecast, step.estimate
    if not f.get("runs"):
        return f"forecast {f['source']}"
    runs = f"{f['runs']} {f['source']}".replace("runs", "run", 1) if f["runs"] == 1 else \
        f"{f['runs']} {f['source']}"
    time = f"time {human_seconds(f['seconds'])} ({_range(f, 'seconds', human_seconds)}{runs})"
    memory = (f"; mem {human_bytes(f['peak_memory_bytes'])}"
              f"{_range(f, 'memory', human_bytes, parens=True)}"
              if f.get("memory_low") is not None else "; mem from the cost model")
    return (f"{time}{memory}; cost model {human_seconds(e.seconds)}, "
            f"{human_bytes(e.peak_memory_bytes)}")


def data_line(step) -> str:
    """What a step trains and measures on: ``suite (synthetic)`` or
    ``file:mine.jsonl@3f2a... (/abs/path/mine.jsonl)``."""
    if step.data == SUITE_LABEL:
        return "suite (synthetic task suite)"
    return f"{step.data} ({_short(str(step.params.get('data', '')))})"


def _range(f: dict, name: str, show, parens: bool = False) -> str:
    low, high = show(f[f"{name}_low"]), show(f[f"{name}_high"])
    if low == high:
        return ""
    return f" ({low}–{high})" if parens else f"{low}–{high}, "


def _short(name: str) -> str:
    return name if len(name) < 60 else "..." + name[-57:]


def _gate_lines(plan: Plan) -> list[str]:
    if not plan.gates:
        return []
    return ["", "  gates:"] + [f"    {g.phase}: {g.expression}  (on fail: {g.on_fail})"
                               for g in plan.gates]


def _summary(plan: Plan, color: bool) -> list[str]:
    t = plan.totals()
    cached = t["steps"] - t["to_run"]
    out = [f"Plan: {t['to_run']} to run, {cached} cached. Estimated time "
           f"{human_seconds(t['seconds'])}, peak memory {human_bytes(t['peak_memory_bytes'])}, "
           f"disk {human_bytes(t['disk_bytes'])}."]
    b = plan.budget
    if b.get("memory_bytes") or b.get("seconds"):
        out.append(f"Budget: memory {human_bytes(b.get('memory_bytes'))}, "
                   f"time {human_seconds(b.get('seconds'))}.")
    for line in plan.over_budget():
        out.append(paint(f"warning: over budget: {line}", "warn", color))
    return out
