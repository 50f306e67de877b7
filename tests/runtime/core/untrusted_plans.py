"""A kernel-free setup for feeding untrusted saved plans to ``forge apply`` in-process.

``noop`` is a phase kind only this registry knows: its kernel records that it ran and
returns nothing, so a plan that gets past validation is noticed without training. Its
params are a strict pydantic model, like a real kind's.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from forgelang.kinds.base import Estimate
from forgelang.plan import GateSpec, Plan, Step, cache_key
from runtime.kernels import KernelRegistry, PhaseResult

RAN: list[str] = []  # phases the noop kernel ran, in this process


class NoopParams(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    steps: int = Field(1, ge=0, le=100)


class NoopKernel:
    params_model = NoopParams

    def run(self, ctx, params, inputs):
        RAN.append(ctx.phase)
        return PhaseResult(models=[], metrics={"steps": float(params.steps)})


def noop_kernels() -> KernelRegistry:
    reg = KernelRegistry()
    reg.register("noop", NoopKernel)
    return reg


def noop_plan() -> dict:
    """A valid two-phase saved plan (``a`` -> ``b``) with a gate, as JSON data."""
    keys: dict[str, str] = {}
    steps = []
    for i, (name, inputs) in enumerate((("a", ()), ("b", ("a",)))):
        params = {"steps": 2}
        keys[name] = cache_key("noop", "1", params, 7 + i, [keys[n] for n in inputs])
        est = Estimate(params=10, peak_memory_bytes=1000, flops=1e6, seconds=0.5,
                       disk_bytes=100, notes=("a note",))
        steps.append(Step(name, "noop", inputs, params, 7 + i, "1", keys[name], est))
    plan = Plan("noop", "/recipes/noop.forge", 7, "cpu", {"name": "cpu", "peak_flops": 1e11},
                {"memory_bytes": 2**30, "seconds": 60.0},
                {"wandb": "disabled", "project": "agent-forge", "entity": None},
                {"type": "local", "address": None, "num_cpus": None, "num_gpus": None},
                tuple(steps), (GateSpec("b", "steps >= 0", "warn"),))
    return plan.to_json()


def tree_state(root: Path, skip: Path) -> dict[str, tuple]:
    """Every path under ``root`` (``skip`` excluded) with its kind, size and mtime."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path == skip or skip in path.parents:
            continue
        st = path.lstat()
        out[str(path)] = (path.is_dir(), path.is_symlink(), st.st_size, st.st_mtime_ns)
    return out
