"""Test-only phase kernels and plan builders for the runtime backbone tests.

``train`` trains a 2-layer MLP classifier on a seeded synthetic task (full-batch SGD,
so a resumed run is bit-identical), checkpointing inside the phase; ``degrade`` adds
seeded noise to its input's weights; ``average`` averages its inputs' weights. Every
accuracy is measured on a held-out split. Models are saved as safetensors + config.json.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from forgelang.kinds.base import Estimate
from forgelang.plan import GateSpec, Plan, Step, cache_key
from runtime.kernels import KernelRegistry, ModelOutput, PhaseResult

DIM, HIDDEN, CLASSES = 8, 16, 2
CALLS: dict[str, int] = {}  # kind -> times run (in this process)


def _task(seed: int) -> tuple[torch.Tensor, ...]:
    """A linearly separable task: train (256) and held-out (256) splits that never overlap."""
    g = torch.Generator().manual_seed(1234)  # the task is fixed; the seed varies the model
    x = torch.randn(512, DIM, generator=g)  # (N, D)
    w = torch.randn(DIM, generator=g)
    y = (x @ w > 0).long()  # (N,)
    return x[:256], y[:256], x[256:], y[256:]


def _mlp() -> torch.nn.Sequential:
    return torch.nn.Sequential(torch.nn.Linear(DIM, HIDDEN), torch.nn.Tanh(),
                               torch.nn.Linear(HIDDEN, CLASSES))


def accuracy(model: torch.nn.Module) -> float:
    """Exact-match accuracy on the held-out split."""
    _, _, xv, yv = _task(0)
    with torch.no_grad():
        return float((model(xv).argmax(-1) == yv).float().mean())


def save_dir(model: torch.nn.Module, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              out / "model.safetensors")
    (out / "config.json").write_text(json.dumps({"dim": DIM, "hidden": HIDDEN}, sort_keys=True))
    return out


def load_dir(path: Path) -> torch.nn.Sequential:
    model = _mlp()
    model.load_state_dict(load_file(path / "model.safetensors"))
    return model


class TrainKernel:
    """Full-batch SGD on the task, resuming from ctx.checkpoint_dir."""

    def run(self, ctx, params, inputs):
        CALLS["train"] = CALLS.get("train", 0) + 1
        model = load_dir(inputs[0].path) if inputs else _mlp()
        opt = torch.optim.SGD(model.parameters(), lr=params.get("lr", 0.5))
        x, y, _, _ = _task(ctx.seed)
        ckpt, start = ctx.checkpoint_dir / "state.safetensors", 0
        if ckpt.exists():
            state = load_file(ckpt)
            start = int(state.pop("__step__"))
            model.load_state_dict(state)
        steps = params.get("steps", 20)
        for step in range(start, steps):
            loss = torch.nn.functional.cross_entropy(model(x), y)  # (N, C) vs (N,)
            opt.zero_grad()
            loss.backward()
            opt.step()
            ctx.log_metric("loss", loss.item(), step=step)
            if (step + 1) % params.get("ckpt_every", 5) == 0:
                _checkpoint(model, step + 1, ckpt)
            ctx.progress((step + 1) / steps, f"step {step + 1}")
            time.sleep(params.get("sleep", 0.0))
        out = save_dir(model, ctx.work_dir / "model")
        return PhaseResult(models=[ModelOutput(role=params.get("role", "trained"), path=out,
                                               metrics={"accuracy": accuracy(model)})],
                           metrics={"steps": float(steps)})


def _checkpoint(model, step: int, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["__step__"] = torch.tensor(step)
    save_file(state, tmp)
    os.replace(tmp, path)  # atomic: a kill leaves the old checkpoint or the new one


class DegradeKernel:
    """Adds seeded Gaussian noise to the input's weights (a measurable accuracy drop)."""

    def run(self, ctx, params, inputs):
        CALLS["degrade"] = CALLS.get("degrade", 0) + 1
        model = load_dir(inputs[0].path)
        g = torch.Generator().manual_seed(ctx.seed)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(params.get("noise", 0.0) * torch.randn(p.shape, generator=g))
        out = save_dir(model, ctx.work_dir / "model")
        return PhaseResult([ModelOutput(role="degraded", path=out,
                                        metrics={"accuracy": accuracy(model)})])


class AverageKernel:
    """Averages the weights of all inputs (a 1-model merge)."""

    def run(self, ctx, params, inputs):
        models = [load_dir(i.path) for i in inputs]
        merged = _mlp()
        states = [m.state_dict() for m in models]
        merged.load_state_dict({k: sum(s[k] for s in states) / len(states) for k in states[0]})
        out = save_dir(merged, ctx.work_dir / "model")
        return PhaseResult([ModelOutput(role="merged", path=out,
                                        metrics={"accuracy": accuracy(merged)})])


class InterruptKernel:
    """Behaves like a Ctrl-C in the middle of a phase."""

    def run(self, ctx, params, inputs):
        raise KeyboardInterrupt


class FailingKernel:
    def run(self, ctx, params, inputs):
        raise ValueError("this kernel always fails")


def kernels_for_tests() -> KernelRegistry:
    reg = KernelRegistry()
    for name, kernel in (("train", TrainKernel), ("degrade", DegradeKernel),
                         ("average", AverageKernel), ("interrupt", InterruptKernel),
                         ("fail", FailingKernel)):
        reg.register(name, kernel)
    return reg


def make_plan(steps: list[tuple], gates: tuple[GateSpec, ...] = (), tracking=None,
              seed: int = 7) -> Plan:
    """Steps as ``(name, kind, inputs, params)``; cache keys chain through inputs."""
    keys: dict[str, str] = {}
    built = []
    for i, (name, kind, inputs, params) in enumerate(steps):
        step_seed = seed + i
        key = cache_key(kind, "1", params, step_seed, [keys[n] for n in inputs])
        keys[name] = key
        est = Estimate(params=418, peak_memory_bytes=1_000_000, flops=1e6, seconds=0.5,
                       disk_bytes=2000)
        built.append(Step(name, kind, tuple(inputs), params, step_seed, "1", key, est))
    return Plan("test", "<test>", seed, "cpu", {}, {}, tracking or {"wandb": "disabled"},
                {"type": "local"}, tuple(built), tuple(gates))


CHAIN = [("a", "train", [], {"steps": 20}),
         ("b", "train", ["a"], {"steps": 10, "lr": 0.2, "role": "tuned"}),
         ("c", "degrade", ["b"], {"noise": 0.0})]
