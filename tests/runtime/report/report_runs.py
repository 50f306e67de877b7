"""Registries written by hand for the report and diff tests (fast, exact, and able to hold
what no kernel records yet: a Pareto front, compression stages, hostile names)."""

from __future__ import annotations

from pathlib import Path

from runtime.registry import ModelRegistry, NewModel

HOSTILE = "<script>alert('x')</script> $a$ & [red]b[/red]"


def _step(name: str, kind: str, inputs: list[str], params: dict, seconds: float) -> dict:
    return {"name": name, "kind": kind, "inputs": inputs, "params": params, "seed": 7,
            "cache_key": f"{name}-{sorted(params.items())}", "kernel_version": "1+test",
            "action": "run", "estimate": {"seconds": seconds, "peak_memory_bytes": 2**27}}


def plan(steps: int = 20, recipe: str = "report-test", extra_phases: bool = True) -> dict:
    """A resolved plan: cognate -> evomerge [-> experts -> compression]."""
    phases = [_step("cognate", "cognate", [], {"steps": steps, "lr": 0.01}, 30.0),
              _step("evomerge", "evomerge", ["cognate"], {"generations": 3}, 10.0)]
    if extra_phases:
        phases += [_step("experts", "experts", ["evomerge"], {"svf": {"steps": 4}}, 5.0),
                   _step("compression", "compression", ["experts"], {"stages": ["vptq"]}, 4.0)]
    return {"recipe": recipe, "seed": 7, "device": "cpu", "source": "recipes/x.forge",
            "budget": {"memory_bytes": 2**31, "seconds": 300.0}, "phases": phases,
            "gates": [{"phase": "evomerge", "expression": "retention >= 0.5",
                       "on_fail": "warn"}], "totals": {"seconds": 49.0}}


def write_run(workspace: Path, run_id: str, steps: int = 20, recipe: str = "report-test",
              extra_phases: bool = True, message: str | None = None) -> None:
    """Record a completed run whose losses and accuracy follow ``steps``."""
    config = plan(steps, recipe, extra_phases)
    with ModelRegistry(workspace) as reg:
        reg.create_session(run_id, config, recipe)
        ids = _cognate(reg, run_id, config["phases"][0], steps)
        champion = _evomerge(reg, run_id, config["phases"][1], ids, steps)
        if extra_phases:
            expert = _experts(reg, run_id, config["phases"][2], champion)
            _compression(reg, run_id, config["phases"][3], expert)
        reg.finish_session(run_id, "completed", message)


def _cognate(reg, run_id: str, step: dict, steps: int) -> list[int]:
    pid = reg.start_phase_run(run_id, step, 0)
    models = []
    for i, role in enumerate(("reasoning", "memory")):
        series = tuple(("loss", 4.0 / (1 + s + i), s) for s in range(steps))
        models.append(NewModel(f"{i}{run_id[-1]}" * 32, role, 1000, 4096, series=series,
                               metrics={"accuracy": 0.2 + steps / 1000, "disk_bytes": 8192}))
    pre = tuple(("loss.pretrain", 5.0 / (1 + s), s) for s in range(steps))
    ids = reg.complete_phase_run(pid, models, {"train_loss": 4.0 / steps}, 2**26, 20.0)
    for name, value, s in pre:
        reg.log_metric(run_id, name, value, pid, step=s)
    return ids


def _evomerge(reg, run_id: str, step: dict, parents: list[int], steps: int) -> int:
    pid = reg.start_phase_run(run_id, step, 1)
    series = []
    for g in range(3):
        series += [("generation.best_fitness", 0.3 + 0.05 * g, g),
                   ("generation.diversity", 0.9 - 0.1 * g, g),
                   ("technique.linear", 2.0 - g * 0.5, g), ("technique.ties", 1.0 + g, g)]
    for name, value, g in series:
        reg.log_metric(run_id, name, value, pid, step=g)
    model = NewModel(f"e{run_id[-1]}" * 32, "champion", 1000, 4096, parents=tuple(parents),
                     metrics={"accuracy": 0.25 + steps / 1000, "retention": 1.1,
                              "cumulative_retention": 1.1, "disk_bytes": 4096},
                     details={"technique": "ties", "note": HOSTILE})
    (mid,) = reg.complete_phase_run(pid, [model], {"fitness": 0.4}, 2**25, 5.0)
    reg.record_gate(run_id, pid, "evomerge", "retention >= 0.5", 1.1, 0.5, True, "warn",
                    "value 1.1 vs threshold 0.5")
    return mid


def _experts(reg, run_id: str, step: dict, parent: int) -> int:
    pid = reg.start_phase_run(run_id, step, 2)
    front = {f"pareto.{i}.accuracy": 0.2 + 0.1 * i for i in range(3)}
    front.update({f"pareto.{i}.retention": 1.0 - 0.1 * i for i in range(3)})
    model = NewModel(f"f{run_id[-1]}" * 32, "experts", 1100, 4500, parents=(parent,),
                     metrics={"accuracy": 0.3, "retention": 1.05, "cumulative_retention": 1.15,
                              "disk_bytes": 4500})
    (mid,) = reg.complete_phase_run(pid, [model], {**front, "pareto.size": 3.0}, 2**25, 3.0)
    return mid


def _compression(reg, run_id: str, step: dict, parent: int) -> None:
    pid = reg.start_phase_run(run_id, step, 3)
    metrics = {"bits_per_weight.seedlm": 4.0, "bits_per_weight.vptq": 1.0,
               "compression_ratio.seedlm": 4.0, "compression_ratio.vptq": 16.0,
               "retention.seedlm": 0.97, "retention.vptq": 0.9}
    model = NewModel(f"c{run_id[-1]}" * 32, "compressed", 1100, 900, parents=(parent,),
                     metrics={"accuracy": 0.27, "retention": 0.9, "cumulative_retention": 1.04,
                              "disk_bytes": 900})
    reg.complete_phase_run(pid, [model], metrics, 2**24, 2.0)
