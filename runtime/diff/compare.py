"""Two runs compared as data (torch-free).

``diff_runs(a, b)`` compares two ``RunData`` (``runtime.report.data.gather``), from one
workspace or two, and returns plain JSON-able data:

- ``parameters``: every plan value that differs, by dotted key as ``--set`` spells it
  (``cognate.steps``, ``evomerge.techniques``, ``seed``, ``gates.evomerge``); a phase's
  ``kind``, ``inputs``, ``seed`` and ``kernel_version`` too. Derived values (estimates,
  cache keys, totals, the device profile) are left out: they follow from the rest.
- ``phases``: per phase (plan order), each run's status, then every measured figure and
  final metric side by side with its change; a model's metric names its role.
- ``models``: per phase and role, each run's model hash and whether they are the same.
- ``gates``: each gate's verdict in both runs.
"""

from __future__ import annotations

import json
import math

from runtime.report.data import RunData, finite

SKIPPED_TOP = ("phases", "gates", "totals", "workspace_state", "target", "format")
STEP_FIELDS = ("kind", "inputs", "seed", "kernel_version")
MAX_DEPTH = 32  # a plan nests a few levels; deeper is a damaged config, shown as JSON


def plan_parameters(data: RunData) -> dict[str, str]:
    """The plan's values as ``{dotted key: JSON text}`` (lists are one value)."""
    flat: dict[str, str] = {}
    for key, value in data.plan.items():
        if key not in SKIPPED_TOP:
            _flatten(key, value, flat, 0)
    for step in data.plan_steps():
        name = step["name"]
        for key in STEP_FIELDS:
            if key in step:
                flat[f"{name}.{key}"] = _text(step[key])
        if isinstance(step.get("params"), dict):
            for key, value in step["params"].items():
                _flatten(f"{name}.{key}", value, flat, 0)
    gates = data.plan.get("gates")
    for gate in gates if isinstance(gates, list) else []:
        if isinstance(gate, dict):
            key = f"gates.{gate.get('phase')}"
            rule = f"{gate.get('expression')} (on_fail = {gate.get('on_fail')})"
            flat[key] = f"{flat[key]}; {rule}" if key in flat else rule
    return flat


def _flatten(prefix: str, value, out: dict[str, str], depth: int) -> None:
    if isinstance(value, dict) and value and depth < MAX_DEPTH:
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}", inner, out, depth + 1)
    else:
        out[prefix] = _text(value)


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def parameter_changes(a: RunData, b: RunData) -> list[dict]:
    """The plan values that differ: ``{"key", "a", "b"}`` (None where a run lacks it)."""
    pa, pb = plan_parameters(a), plan_parameters(b)
    keys = list(pa) + [k for k in pb if k not in pa]
    return [{"key": k, "a": pa.get(k), "b": pb.get(k)} for k in keys if pa.get(k) != pb.get(k)]


def phase_figures(phase: dict) -> dict[str, float]:
    """A phase's measured time and memory and its final metrics, by display name; a
    model's metric (``role: name``) is left out where it repeats the phase's figure."""
    out = {"measured.seconds": phase["measured"]["seconds"],
           "measured.peak_memory_bytes": phase["measured"]["peak_memory_bytes"]}
    for name, value in phase["metrics"].items():
        if value != out.get(f"measured.{name}"):  # the runner's own seconds, said once
            out[name] = value
    for role, model in _models_by_role(phase).items():
        for name, value in model["metrics"].items():
            if value not in (out.get(name), out.get(f"measured.{name}")):  # not a repeat
                out[f"{role}: {name}"] = value
    return {k: float(v) for k, v in out.items() if finite(v) is not None}


def _models_by_role(phase: dict) -> dict[str, dict]:
    """The phase's models keyed by role (``role#2`` for a second model of one role)."""
    out: dict[str, dict] = {}
    for model in phase["models"]:
        role, n = str(model["role"]), 2
        key = role
        while key in out:
            key, n = f"{role}#{n}", n + 1
        out[key] = model
    return out


def metric_rows(pa: dict | None, pb: dict | None) -> list[dict]:
    """Every figure of a phase in either run: ``{"name", "a", "b", "change", "relative"}``."""
    fa = phase_figures(pa) if pa else {}
    fb = phase_figures(pb) if pb else {}
    rows = []
    for name in list(fa) + [n for n in fb if n not in fa]:
        va, vb = fa.get(name), fb.get(name)
        change = vb - va if va is not None and vb is not None else None
        relative = change / abs(va) if change is not None and va else None
        rows.append({"name": name, "a": va, "b": vb, "change": change, "relative": relative})
    return rows


def diff_runs(a: RunData, b: RunData) -> dict:
    """The two runs compared (see the module docstring for the parts)."""
    phases_a = {p["name"]: p for p in a.run["phases"]}
    phases_b = {p["name"]: p for p in b.run["phases"]}
    names = list(phases_a) + [n for n in phases_b if n not in phases_a]
    phases, models = [], []
    for name in names:
        pa, pb = phases_a.get(name), phases_b.get(name)
        phases.append({"phase": name, "status_a": pa["status"] if pa else None,
                       "status_b": pb["status"] if pb else None,
                       "metrics": metric_rows(pa, pb)})
        models += model_rows(name, pa, pb)
    return {"a": _summary(a), "b": _summary(b), "parameters": parameter_changes(a, b),
            "phases": phases, "models": models, "gates": gate_rows(a, b)}


def _summary(data: RunData) -> dict:
    run = data.run
    return {"run_id": run["run_id"], "recipe": run["recipe"], "status": run["status"],
            "workspace": str(data.workspace) if data.workspace else None}


def model_rows(phase: str, pa: dict | None, pb: dict | None) -> list[dict]:
    """Per role, each run's model hash (None where a run has no such model)."""
    ma = _models_by_role(pa) if pa else {}
    mb = _models_by_role(pb) if pb else {}
    rows = []
    for role in list(ma) + [r for r in mb if r not in ma]:
        sa = str(ma[role]["sha256"]) if role in ma else None
        sb = str(mb[role]["sha256"]) if role in mb else None
        rows.append({"phase": phase, "role": role, "sha256_a": sa, "sha256_b": sb,
                     "same": sa is not None and sa == sb})
    return rows


def gate_rows(a: RunData, b: RunData) -> list[dict]:
    """Each gate (phase and expression) with its verdict and value in both runs."""
    def verdicts(data: RunData) -> dict[tuple[str, str], dict]:
        return {(g["phase"], g["expression"]): g for g in data.run["gates"]}

    va, vb = verdicts(a), verdicts(b)
    rows = []
    for key in list(va) + [k for k in vb if k not in va]:
        ga, gb = va.get(key), vb.get(key)
        rows.append({"phase": key[0], "expression": key[1],
                     "passed_a": ga["passed"] if ga else None,
                     "passed_b": gb["passed"] if gb else None,
                     "value_a": finite(ga["value"]) if ga else None,
                     "value_b": finite(gb["value"]) if gb else None})
    return rows


def moved(row: dict, tolerance: float = 1e-12) -> bool:
    """Whether a metric row changed (or exists in one run only)."""
    if row["a"] is None or row["b"] is None:
        return row["a"] is not row["b"]
    return not math.isclose(row["a"], row["b"], rel_tol=tolerance, abs_tol=tolerance)
