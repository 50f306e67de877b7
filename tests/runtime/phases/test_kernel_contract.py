"""The contract between phase kinds and kernels, checked for every declared kind.

- every kind has a kernel, or is listed as not yet built (and ``forge apply`` refuses it);
- every metric name a kernel records is one its kind declares (``Kind.metrics``), and
  every declared pattern is recorded by some run: a gate compiles only against names
  that a kernel really records;
- every ``runtime``/``forgelang`` module a kernel imports while it runs is part of the
  code fingerprint in its steps' cache keys (``forgelang.kernel_code``).

Each built kernel runs end to end here at the smallest scale (one step per stage).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from forgelang.kernel_code import code_closure, kernel_files, module_index
from forgelang.kinds import KINDS
from forgelang.kinds.base import COMMON_METRICS
from runtime.kernels import KERNELS, InputModel, PhaseContext
from runtime.phases import NOT_YET_BUILT
from tests.subprocess_env import repo_pythonpath

REPO = Path(__file__).resolve().parents[3]

EVAL = {"examples": 4, "max_new_tokens": 2, "batch_size": 4}
COGNATE = dict(models=2, roles=["reasoning", "memory"], pretrain_steps=1, steps=1,
               batch_size=2, seq_len=64, warmup_steps=1, architecture="smoke",
               optimizer="mugrokfast_pretrain", eval=EVAL)
EVOLVE = dict(population=2, generations=1, elitism=1, tournament_size=2,
              techniques=["linear", "ties"], fitness="0.9 * accuracy + 0.1 * diversity",
              eval=EVAL)
MERGE = dict(mode="merge", merge={"technique": "linear"}, eval=EVAL)
BITNET = dict(steps=1, batch_size=2, seq_len=64, eval=EVAL)
QUIETSTAR = dict(thought_tokens=2, thoughts_per_position=2, steps=1, batch_size=2, seq_len=32,
                 bake={"steps": 1, "trajectories": 2, "trajectory_tokens": 4, "batch_size": 2},
                 anti_theater={"examples": 2}, eval=EVAL)
BAKE = {"steps": 1, "trajectories": 2, "trajectory_tokens": 4, "batch_size": 2}
CURRICULUM = dict(levels=2, questions=8, batch_size=4, seq_len=64,
                  controller={"window": 4, "min_questions": 4, "assessment_questions": 2},
                  tool_use={"fraction": 0.3}, dream={"every": 4, "replay_ratio": 0.5},
                  eudaimonia={"rules": ["Be honest.", "Be kind."], "bake": BAKE}, eval=EVAL)
BAKING = dict(max_iterations=2, a_cycle={"episodes": 2},
              b_cycle={"personas": 2, "episodes": 2, "persona_tokens": 4}, bake=BAKE, eval=EVAL)
EXPERTS = dict(self_analysis={"samples_per_skill": 2, "max_experts": 2},
               svf={"steps": 1, "batch_size": 2},
               nsga2={"evaluations": 4, "population": 4, "examples": 1},
               mixing={"cem_population": 2, "iterations": 1, "examples": 2}, eval=EVAL)
VPTQ = {"type": "vptq", "vector_len": 8, "codebook": 16, "kmeans_iters": 2,
        "calibration_samples": 2}
COMPRESS_TERNARY = dict(stages=[{"type": "seedlm", "seed_bits": 6}, VPTQ], eval=EVAL)
COMPRESS_FLOAT = dict(stages=[{"type": "seedlm", "seed_bits": 6},
                              {"type": "hyper", "points": 64, "bits": 8}], eval=EVAL)


class Recorder:
    """A phase context's metric sink plus what the kernel returned: every recorded name."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.modules: set[str] = set()

    def ctx(self, root: Path, kind: str) -> PhaseContext:
        ckpt = root / "ckpt"
        ckpt.mkdir(parents=True, exist_ok=True)
        return PhaseContext(run_id="r", phase=kind, kind=kind, device="cpu", seed=3,
                            workspace=root, run_dir=root, checkpoint_dir=ckpt, work_dir=root,
                            metric_sink=lambda name, *rest: self.names.add(name),
                            stop_event=threading.Event())

    def run(self, root: Path, kind: str, params: dict, inputs: list[InputModel]):
        before = set(sys.modules)
        kernel = KERNELS.get(kind)
        result = kernel.run(self.ctx(root, kind), KINDS.get(kind).params(**params), inputs)
        self.modules |= set(sys.modules) - before
        self.names |= set(result.metrics)
        for out in result.models:
            self.names |= set(out.metrics)
        for measured in result.input_metrics.values():
            self.names |= set(measured)
        return result


def _save(result, root: Path) -> list[InputModel]:
    inputs = []
    for i, out in enumerate(result.models):
        out.model.save_pretrained(root / out.role)
        out.tokenizer.save_pretrained(root / out.role)
        inputs.append(InputModel(path=root / out.role, role=out.role, model_id=i + 1))
    return inputs


def record(root: Path) -> dict[str, Recorder]:
    """Each built kernel run end to end: cognate, then evomerge (evolve and merge),
    quietstar and bitnet on its models; curriculum, baking, experts and compression on
    bitnet's ternary model (what the pipeline feeds them), compression on a float one too."""
    torch.set_num_threads(1)
    recorders = {kind: Recorder() for kind in ("cognate", "evomerge", "quietstar", "bitnet",
                                               "curriculum", "baking", "experts",
                                               "compression")}
    cognate = recorders["cognate"].run(root / "cognate", "cognate", COGNATE, [])
    inputs = _save(cognate, root / "models")
    recorders["evomerge"].run(root / "evolve", "evomerge", EVOLVE, inputs)
    recorders["evomerge"].run(root / "merge", "evomerge", MERGE, inputs)
    recorders["quietstar"].run(root / "quietstar", "quietstar", QUIETSTAR, inputs[:1])
    bitnet = recorders["bitnet"].run(root / "bitnet", "bitnet", BITNET, inputs[:1])
    ternary = [InputModel(path=bitnet.models[0].path, role="ternary", model_id=9)]
    for kind, params in (("curriculum", CURRICULUM), ("baking", BAKING), ("experts", EXPERTS),
                         ("compression", COMPRESS_TERNARY)):
        recorders[kind].run(root / kind, kind, params, ternary)
    recorders["compression"].run(root / "compress_float", "compression", COMPRESS_FLOAT,
                                 inputs[:1])
    return recorders


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict[str, Recorder]:
    """``record`` in a fresh interpreter, so that what the kernels import while running is
    not hidden by modules that earlier tests loaded."""
    root = tmp_path_factory.mktemp("contract")
    code = ("import json, sys; from pathlib import Path; "
            "from tests.runtime.phases.test_kernel_contract import record; "
            "out = record(Path(sys.argv[1])); "
            "print(json.dumps({k: [sorted(r.names), sorted(r.modules)] for k, r in out.items()}))")
    done = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True,
                          text=True, cwd=REPO, timeout=600,
                          env={**os.environ, "PYTHONPATH": repo_pythonpath()})
    assert done.returncode == 0, done.stderr[-3000:]
    recorders = {}
    for kind, (names, modules) in json.loads(done.stdout.splitlines()[-1]).items():
        recorders[kind] = Recorder()
        recorders[kind].names, recorders[kind].modules = set(names), set(modules)
    return recorders


def test_every_kind_has_a_kernel_or_is_listed_as_not_yet_built():
    built = set(KERNELS.names())
    assert not built & set(NOT_YET_BUILT), "a kind with a kernel is still listed as not built"
    assert set(KINDS.names()) == built | set(NOT_YET_BUILT)


def test_every_built_kernel_is_exercised_here(recorded):
    assert set(recorded) == set(KERNELS.names())


def test_recorded_metrics_are_declared_by_the_kind(recorded):
    for kind, recorder in recorded.items():
        undeclared = sorted(n for n in recorder.names if not KINDS.get(kind).produces(n))
        assert not undeclared, f"{kind} records metrics its Kind.metrics does not declare: {undeclared}"


# Retention is undefined when the input scored 0 (runtime.phase_runner), and the smallest
# models here score 0: these patterns are recorded only for an input that scores (tested
# in each kernel's own tests on trained models).
ONLY_WHEN_THE_INPUT_SCORES = {"compression": ("retention.*", "cumulative_retention.*")}


def test_every_declared_metric_pattern_is_recorded(recorded):
    import fnmatch

    for kind, recorder in recorded.items():
        never = [p for p in KINDS.get(kind).metrics
                 if not any(fnmatch.fnmatchcase(n, p) for n in recorder.names)
                 and p not in ONLY_WHEN_THE_INPUT_SCORES.get(kind, ())]
        assert not never, (f"{kind} declares metrics no run records, so a gate on them "
                           f"would compile and never pass: {never}")
    assert "accuracy" in COMMON_METRICS  # the runtime's own names are declared once, there


def test_modules_a_kernel_imports_while_running_are_in_its_fingerprint(recorded):
    for kind, recorder in recorded.items():
        closure = set(code_closure(kernel_files(kind)))
        ours = {m for m in recorder.modules if m.split(".")[0] in ("runtime", "forgelang")}
        missing = sorted(m for m in ours if m in module_index()
                         and not module_index()[m].endswith("__init__.py")
                         and module_index()[m] not in closure)
        assert not missing, f"{kind} ran code its cache key does not cover: {missing}"


def test_no_phase_package_imports_another_phase_package():
    import re

    phases = REPO / "runtime" / "phases"
    kinds = [p.name for p in phases.iterdir() if (p / "__init__.py").exists() and p.name != "toolkit"]
    for kind in kinds:
        others = "|".join(k for k in kinds if k != kind)
        pattern = re.compile(rf"runtime\.phases\.({others})\b")
        for path in (phases / kind).rglob("*.py"):
            assert not pattern.search(path.read_text()), (
                f"{path.relative_to(REPO)} imports another phase's package; what two phases "
                "share belongs in runtime/phases/toolkit")
