"""What a run report shows, read from the registry in one snapshot (torch-free).

``gather(registry, run_id)`` returns a ``RunData``: the run as ``forge show`` sees it,
its resolved plan (the ``runs.config`` JSON), every per-step metric series of its
phases and the lineage of its final models. The registry is untrusted input: a damaged
row is a ``RegistryError`` from the queries, a non-finite number is dropped, and
nothing read here is interpreted as markup (the template escapes it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from runtime.registry_queries import row_json

MAX_POINTS = 1000  # per series: a chart of 10k-step training needs no more points than pixels


@dataclass(frozen=True)
class Series:
    """One per-step metric curve of a phase run (of one model, or of the phase itself)."""

    name: str  # the metric name, e.g. "loss.pretrain"
    model: str | None  # the model's role when the curve belongs to one model
    steps: tuple[int, ...]
    values: tuple[float, ...]

    @property
    def label(self) -> str:
        """The legend label: the metric name, with the model's role when it has one."""
        return f"{self.name} ({self.model})" if self.model else self.name


@dataclass
class RunData:
    """Everything the report and the diff read about one run."""

    run: dict  # ModelRegistry.show(run_id)
    plan: dict  # the resolved plan the run applied
    series: dict[str, list[Series]] = field(default_factory=dict)  # by phase name
    lineage: list[dict] = field(default_factory=list)  # trees of the final models
    workspace: str | None = None  # the workspace it was read from

    @property
    def run_id(self) -> str:
        return self.run["run_id"]

    def plan_steps(self) -> list[dict]:
        """The plan's steps that are objects with a string name (a damaged entry is skipped)."""
        steps = self.plan.get("phases")
        if not isinstance(steps, list):
            return []
        return [s for s in steps if isinstance(s, dict) and isinstance(s.get("name"), str)]

    def done_phases(self) -> list[dict]:
        """The phases that produced results in this run: completed or reused from the cache."""
        return [p for p in self.run["phases"] if p["status"] in ("completed", "cached")]


def gather(registry, run_id: str | None = None, lineage: bool = True) -> RunData:
    """Read one run (the newest when ``run_id`` is None) for a report or a diff.

    Raises:
        RegistryError: no such run, or a damaged row.
    """
    with registry._snapshot():
        run = registry.show(run_id)
        rows = registry._read("SELECT config FROM runs WHERE id = ?", (run["run_id"],))
        plan = row_json(rows[0]["config"], f"run {run['run_id']}'s plan", dict)
        data = RunData(run=run, plan=plan, workspace=str(registry.workspace))
        for phase in data.done_phases():
            data.series[phase["name"]] = _phase_series(registry, phase)
        if lineage:
            data.lineage = [registry.lineage(m["id"]) for m in final_models(data)]
    return data


def final_models(data: RunData) -> list[dict]:
    """The models of the last phase (by plan position) that produced any: the run's output."""
    for phase in reversed(data.done_phases()):
        if phase["models"]:
            return phase["models"]
    return []


def _phase_series(registry, phase: dict) -> list[Series]:
    """The per-step curves of a phase run (a cached phase shows its source's curves)."""
    source = phase["source_phase_run"] or phase["id"]
    roles = {m["id"]: m["role"] for m in phase["models"]}
    rows = registry._read("SELECT model_id, name, step, value FROM metrics WHERE "
                          "phase_run_id = ? AND step IS NOT NULL ORDER BY id", (source,))
    curves: dict[tuple[str, int | None], list[tuple[int, float]]] = {}
    for r in rows:
        value, step = finite(r["value"]), r["step"]
        if value is not None and isinstance(step, int):  # a damaged row is left out
            curves.setdefault((str(r["name"]), r["model_id"]), []).append((step, value))
    out = []
    for (name, model_id), points in curves.items():
        points = _thin(sorted(points))
        role = None if model_id is None else str(roles.get(model_id, f"model {model_id}"))
        out.append(Series(name, role, tuple(p[0] for p in points), tuple(p[1] for p in points)))
    return out


def _thin(points: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """At most ``MAX_POINTS`` points, evenly spaced, always keeping the last one."""
    if len(points) <= MAX_POINTS:
        return points
    stride = math.ceil(len(points) / MAX_POINTS)
    kept = points[::stride]
    return kept if kept[-1] == points[-1] else kept + [points[-1]]


def finite(value) -> float | None:
    """``value`` as a float when it is a finite number, else None (a damaged row)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None
