"""The execution plan: frozen, JSON-serialisable data that ``forge apply`` runs exactly.

A plan is a DAG of steps (one per phase). Each step carries its fully resolved
params, the names of its input steps (or external model directories), a cache key
and the planner's estimate. ``Plan.to_json`` / ``Plan.from_json`` round-trip.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace

from forgelang.estimate import Estimate, ModelSpec
from forgelang.humanize import human_bytes

PLAN_FORMAT = 1
EXTERNAL_PREFIX = "dir:"  # an input that is a local Hugging Face model directory


def canonical_json(data) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class GateSpec:
    """One gate condition checked after a phase."""

    phase: str
    expression: str  # canonical source of the condition, e.g. "retention >= 0.95"
    on_fail: str = "stop"  # "stop" | "warn"

    def to_json(self) -> dict:
        return {"phase": self.phase, "expression": self.expression, "on_fail": self.on_fail}


def _present(forecast: dict | None) -> dict | None:
    """A forecast without the optional fields a schema dump fills with None."""
    return None if forecast is None else {k: v for k, v in forecast.items() if v is not None}


def _data_label(params: dict) -> str:
    """The data label of a step saved without one (a plan saved before labels existed):
    from its ``data`` parameter, without the content digest it was planned with."""
    from forgelang.data_label import SUITE_LABEL, label_of

    value = params.get("data") if isinstance(params, dict) else None
    return label_of(value) if isinstance(value, str) else SUITE_LABEL


@dataclass(frozen=True)
class Step:
    """One phase of the plan."""

    name: str
    kind: str
    inputs: tuple[str, ...]  # step names, or "dir:PATH" for a model directory
    params: dict  # resolved, JSON-able; validate with the kind's Params to get a model
    seed: int
    kernel_version: str
    cache_key: str
    estimate: Estimate
    action: str = "run"  # "run" (+), "cached" (=), "rerun" (~)
    reason: str = ""  # why a "rerun" step re-runs, e.g. "kernel changed"
    forecast: dict | None = None  # the estimate corrected by history (forgelang.history)
    data: str = "suite"  # what it trains and measures on: forgelang.data_label

    @property
    def expected_seconds(self) -> float:
        """The forecast's seconds when there is one, else the cost model's."""
        return self.forecast["seconds"] if self.forecast else self.estimate.seconds

    @property
    def expected_memory(self) -> int:
        """The forecast's peak memory when there is one, else the cost model's."""
        return (self.forecast["peak_memory_bytes"] if self.forecast
                else self.estimate.peak_memory_bytes)

    def to_json(self) -> dict:
        extra = {"reason": self.reason} if self.reason else {}
        if self.forecast:
            extra["forecast"] = self.forecast
        return {**extra,
            "name": self.name,
            "kind": self.kind,
            "inputs": list(self.inputs),
            "params": self.params,
            "seed": self.seed,
            "kernel_version": self.kernel_version,
            "cache_key": self.cache_key,
            "action": self.action,
            "data": self.data,
            "estimate": self.estimate.to_json(),
        }

    @classmethod
    def from_json(cls, d: dict) -> Step:
        e = dict(d["estimate"])
        notes = tuple(e.pop("notes", ()))
        est = Estimate(**e, notes=notes)
        return cls(d["name"], d["kind"], tuple(d["inputs"]), d["params"], d["seed"],
                   d["kernel_version"], d["cache_key"], est, d.get("action", "run"),
                   d.get("reason", ""), _present(d.get("forecast")),
                   d.get("data") or _data_label(d["params"]))


@dataclass(frozen=True)
class Plan:
    """A compiled recipe: what would run, in order, with estimates."""

    recipe: str
    source: str
    seed: int
    device: str  # as the recipe asks: auto | cpu | cuda | cuda:N | mps
    target: dict  # the device profile the estimates were computed for
    budget: dict  # {"memory_bytes": int|None, "seconds": float|None}
    tracking: dict
    executor: dict
    steps: tuple[Step, ...]
    gates: tuple[GateSpec, ...] = ()
    workspace_state: str | None = None  # registry fingerprint when planned (stale check)
    format: int = field(default=PLAN_FORMAT)

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def totals(self) -> dict:
        todo = [s for s in self.steps if s.action != "cached"]
        return {
            "flops": sum(s.estimate.flops for s in todo),
            "seconds": sum(s.expected_seconds for s in todo),
            "disk_bytes": sum(s.estimate.disk_bytes for s in todo),
            "peak_memory_bytes": max((s.expected_memory for s in todo), default=0),
            "steps": len(self.steps),
            "to_run": len(todo),
        }

    def over_budget(self) -> list[str]:
        """Human lines saying which budget the plan exceeds (empty when within)."""
        t, out = self.totals(), []
        mem, secs = self.budget.get("memory_bytes"), self.budget.get("seconds")
        if mem and t["peak_memory_bytes"] > mem:
            out.append(f"peak memory {human_bytes(t['peak_memory_bytes'])} exceeds budget "
                       f"{human_bytes(mem)}")
        if secs and t["seconds"] > secs:
            out.append(f"time {t['seconds']:,.0f} s exceeds budget {secs:,.0f} s")
        return out

    def with_actions(self, actions: dict[str, str], state: str | None,
                     reasons: dict[str, str] | None = None) -> Plan:
        reasons = reasons or {}
        steps = tuple(replace(s, action=actions.get(s.name, s.action),
                              reason=reasons.get(s.name, s.reason)) for s in self.steps)
        return replace(self, steps=steps, workspace_state=state)

    def with_forecasts(self, forecasts: dict[str, dict]) -> Plan:
        """The plan with each named step's forecast (``forgelang.history.forecast``)."""
        return replace(self, steps=tuple(replace(s, forecast=forecasts.get(s.name, s.forecast))
                                         for s in self.steps))

    def to_json(self) -> dict:
        return {
            "format": self.format,
            "recipe": self.recipe,
            "source": self.source,
            "seed": self.seed,
            "device": self.device,
            "target": self.target,
            "budget": self.budget,
            "tracking": self.tracking,
            "executor": self.executor,
            "workspace_state": self.workspace_state,
            "phases": [s.to_json() for s in self.steps],
            "gates": [g.to_json() for g in self.gates],
            "totals": self.totals(),
        }

    @classmethod
    def from_json(cls, d: dict) -> Plan:
        if d.get("format") != PLAN_FORMAT:
            raise ValueError(f"unsupported plan format {d.get('format')!r}")
        steps = tuple(Step.from_json(s) for s in d["phases"])
        gates = tuple(GateSpec(**g) for g in d.get("gates", ()))
        return cls(d["recipe"], d["source"], d["seed"], d["device"], d["target"], d["budget"],
                   d["tracking"], d["executor"], steps, gates, d.get("workspace_state"))


def cache_key(kind: str, version: str, params: dict, seed: int, input_keys: list[str]) -> str:
    """sha256 of what determines a step's result (inputs by their own keys or hashes)."""
    return sha256_hex(canonical_json({"kind": kind, "version": version, "params": params,
                                      "seed": seed, "inputs": input_keys}))


__all__ = ["Plan", "Step", "GateSpec", "Estimate", "ModelSpec", "cache_key", "canonical_json"]
