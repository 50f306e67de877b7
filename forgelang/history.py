"""Forecasts: each phase's cost-model estimate corrected by what the workspace measured.

The cost model (``forgelang.kinds``) stays the base. The workspace's history
(``runtime.estimate_history``: completed phase runs with their estimate and what was
measured) corrects it per phase kind and device profile: the forecast is the estimate
times the geometric mean of measured ÷ estimated over the newest earlier runs, and its
range the estimate times the smallest and largest of those ratios. Earlier runs of the
same phase (same kind and params) are preferred to runs of the same kind, and runs
estimated with the same calibration of the profile to runs under its other calibrations
(a new `forge calibrate` changes the estimates the ratios are relative to). With no
history the forecast is the cost model's figure ("from the cost model, no history").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from forgelang.plan import canonical_json

SAME_PHASE_RUNS = 5  # newest runs of the very same phase used
SAME_KIND_RUNS = 10  # newest runs of the kind used when the phase itself never ran
COST_MODEL = "from the cost model, no history"


def _pick(step, target: dict, history: Sequence[dict]) -> tuple[list[dict], str]:
    """The history rows that correct ``step``, and how to describe them."""
    params = canonical_json(step.params)
    name, source = str(target.get("name")), str(target.get("source") or "default")
    mine = [r for r in history if r["kind"] == step.kind and r["profile"] == name]
    same = [r for r in mine if r["params"] == params]
    tiers = (([r for r in same if r["profile_source"] == source], SAME_PHASE_RUNS,
              "earlier runs of this phase"),
             (same, SAME_PHASE_RUNS, "earlier runs of this phase, other calibrations"),
             ([r for r in mine if r["profile_source"] == source], SAME_KIND_RUNS,
              f"earlier {step.kind} runs"),
             (mine, SAME_KIND_RUNS, f"earlier {step.kind} runs, other calibrations"))
    for rows, limit, source_text in tiers:
        if rows:
            return rows[:limit], source_text
    return [], COST_MODEL


def _corrected(estimate: float, ratios: list[float]) -> tuple[float, float, float]:
    mean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    return estimate * mean, estimate * min(ratios), estimate * max(ratios)


def _ratios(rows: Sequence[dict], estimated: str, measured: str) -> list[float]:
    return [r[measured] / r[estimated] for r in rows
            if r.get(estimated) and r.get(measured)]


def forecast(step, target: dict, history: Sequence[dict]) -> dict:
    """The forecast of one plan step (JSON-able): seconds and peak memory with their
    ranges, how many runs corrected them and where they came from."""
    rows, source = _pick(step, target, history)
    est = step.estimate
    out = {"seconds": est.seconds, "peak_memory_bytes": est.peak_memory_bytes,
           "runs": 0, "source": COST_MODEL}
    time_ratios = _ratios(rows, "estimated_seconds", "seconds")
    if not time_ratios or est.seconds <= 0:
        return out
    seconds, low, high = _corrected(est.seconds, time_ratios)
    out.update(seconds=seconds, seconds_low=low, seconds_high=high, runs=len(time_ratios),
               source=source)
    memory_ratios = _ratios(rows, "estimated_memory", "memory")
    if memory_ratios and est.peak_memory_bytes > 0:
        memory, low, high = _corrected(est.peak_memory_bytes, memory_ratios)
        out.update(peak_memory_bytes=int(memory), memory_low=int(low), memory_high=int(high))
    return out


def with_forecasts(plan, history: Sequence[dict]):
    """``plan`` with every step's forecast from ``history``."""
    return plan.with_forecasts({s.name: forecast(s, plan.target, history)
                                for s in plan.steps})
