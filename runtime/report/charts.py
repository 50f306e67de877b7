"""The report's charts: matplotlib figures rendered to inline SVG strings.

No pyplot and no backend switch: each chart is a bare ``Figure`` saved through its
own SVG canvas, so making a report never changes a caller's matplotlib state. Text
stays text (``svg.fonttype = none``: small files, selectable labels); matplotlib's SVG
writer escapes it, and mathtext is off, so a ``$`` in a recipe's name is only a dollar.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

from runtime.report.data import Series

PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3",
           "#8c8c8c", "#ccb974", "#64b5cd")
RC = {"svg.fonttype": "none", "svg.hashsalt": "agent-forge-report", "text.parse_math": False,
      "font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
      "figure.dpi": 96}
LOG_SPAN = 20  # a log axis only for values spanning more than this factor (else few ticks)
MAX_LINES = 12  # more curves than this in one panel is a tangle; the title says how many
_PROLOG = re.compile(r"^.*?(?=<svg)", re.S)


def figure(width: float = 7.5, height: float = 3.2, rows: int = 1, cols: int = 1):
    """A new figure and its axes (a list, row by row)."""
    from matplotlib.figure import Figure

    with _rc():
        fig = Figure(figsize=(width, height), layout="constrained")
        axes = fig.subplots(rows, cols, squeeze=False)
    return fig, [ax for row in axes for ax in row]


def _rc():
    """Our style, for this chart only (the caller's rcParams are restored afterwards)."""
    import matplotlib
    from cycler import cycler

    return matplotlib.rc_context({**RC, "axes.prop_cycle": cycler(color=PALETTE)})


def to_svg(fig) -> str:
    """The figure as an ``<svg>`` element (no XML prolog), ready to inline in HTML."""
    buf = io.StringIO()
    with _rc():
        fig.savefig(buf, format="svg")
    return _PROLOG.sub("", buf.getvalue(), count=1).strip()


def lines(title: str, series: Sequence[Series], ylabel: str = "", logy: bool = False,
          xlabel: str = "step") -> str:
    """Curves over steps in one panel; the first ``MAX_LINES`` are drawn. ``logy``: a log
    axis when the values are positive and span more than ``LOG_SPAN``."""
    from matplotlib.ticker import MaxNLocator

    fig, (ax,) = figure()
    with _rc():
        for s in series[:MAX_LINES]:
            ax.plot(s.steps, s.values, label=s.label, linewidth=1.2,
                    marker="o" if len(s.steps) <= 12 else None, markersize=3)
        values = [v for s in series[:MAX_LINES] for v in s.values]
        if logy and values and min(values) > 0 and max(values) >= LOG_SPAN * min(values):
            _log_y(ax)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps and generations
        if len(series) > MAX_LINES:
            title = f"{title} (first {MAX_LINES} of {len(series)} curves)"
        _labels(ax, title, xlabel, ylabel)
        if len(series) > 1:
            ax.legend(fontsize=7, loc="best", ncol=2 if len(series) > 6 else 1)
    return to_svg(fig)


def estimate_vs_measured(names: Sequence[str], estimated: Sequence[dict],
                         measured: Sequence[dict]) -> str:
    """Grouped bars per phase: estimated and measured seconds (left), peak memory (right)."""
    fig, axes = figure(width=9, height=3.2, cols=2)
    panels = (("seconds", "time (s)", 1.0), ("peak_memory_bytes", "peak memory (MiB)", 2**20))
    x = range(len(names))
    with _rc():
        for ax, (key, label, unit) in zip(axes, panels, strict=True):
            est = [_scaled(e.get(key), unit) for e in estimated]
            got = [_scaled(m.get(key), unit) for m in measured]
            ax.bar([i - 0.2 for i in x], est, width=0.4, label="estimate", color=PALETTE[0])
            ax.bar([i + 0.2 for i in x], got, width=0.4, label="measured", color=PALETTE[1])
            shown = [v for v in est + got if v == v and v > 0]  # v == v: not NaN
            log = bool(shown) and max(shown) >= LOG_SPAN * min(shown)  # a bar would vanish
            if log:
                _log_y(ax)
                ax.set_ylim(bottom=min(shown) / 3)  # the smallest bar stays visible
            ax.set_xticks(list(x), list(names), rotation=30 if len(names) > 4 else 0)
            _labels(ax, f"{label}, log scale" if log else label, "", "")
            ax.legend(fontsize=7)
    return to_svg(fig)


def stacked_bars(title: str, categories: Sequence[str], stacks: dict[str, Sequence[float]],
                 xlabel: str = "", ylabel: str = "") -> str:
    """Bars per category, each split into the named stacks (e.g. techniques per generation)."""
    fig, (ax,) = figure()
    bottom = [0.0] * len(categories)
    with _rc():
        for i, (name, values) in enumerate(stacks.items()):
            ax.bar(list(categories), list(values), bottom=bottom, label=name,
                   color=PALETTE[i % len(PALETTE)])
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        _labels(ax, title, xlabel, ylabel)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return to_svg(fig)


def waterfall(title: str, start: tuple[str, float], steps: Sequence[tuple[str, float]],
              ylabel: str = "", unit: float = 1.0) -> str:
    """A waterfall: the start bar, then each step as a floating bar from the previous
    level to its own (green up, red down), then the final level."""
    fig, (ax,) = figure(width=7.5, height=3.0)
    level = start[1] / unit
    with _rc():
        bars = [ax.bar([start[0]], [level], color=PALETTE[0])]
        for name, value in steps:
            new = value / unit
            color = PALETTE[2] if new >= level else PALETTE[3]
            bars.append(ax.bar([name], [new - level], bottom=[level], color=color))
            level = new
        bars.append(ax.bar(["final"], [level], color=PALETTE[0]))
        levels = [start[1] / unit, *(v / unit for _, v in steps), level]
        for bar, top in zip(bars, levels, strict=True):  # each bar says the level it ends at
            ax.bar_label(bar, labels=[f"{top:.3g}"], fontsize=7)
        _labels(ax, title, "", ylabel)
        if len(steps) > 4:
            ax.tick_params(axis="x", labelrotation=30)
    return to_svg(fig)


def scatter(title: str, points: Sequence[tuple[float, float]], xlabel: str, ylabel: str,
            front: Sequence[tuple[float, float]] = ()) -> str:
    """Points in two objectives, with the front drawn as a line through its points sorted
    by x (no staircase: whether an objective is minimised is not ours to assume)."""
    fig, (ax,) = figure(width=5.5, height=3.6)
    with _rc():
        if points:
            ax.scatter([p[0] for p in points], [p[1] for p in points], s=14,
                       color=PALETTE[7], label="evaluated")
        if front:
            ordered = sorted(front)
            ax.plot([p[0] for p in ordered], [p[1] for p in ordered], marker="o",
                    color=PALETTE[3], label="Pareto front")
        _labels(ax, title, xlabel, ylabel)
        ax.legend(fontsize=7)
    return to_svg(fig)


def _log_y(ax) -> None:
    """A log y axis with plain tick labels (the default ones are mathtext, which is off)."""
    from matplotlib.ticker import FuncFormatter

    ax.set_yscale("log")
    plain = FuncFormatter(lambda value, _pos: f"{value:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _pos: ""))


def _labels(ax, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.25)


def _scaled(value, unit: float) -> float:
    """``value / unit``; NaN (no bar) when it is missing."""
    return float("nan") if value is None else value / unit
