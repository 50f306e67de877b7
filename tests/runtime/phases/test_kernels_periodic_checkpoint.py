"""The training stages outside the toolkit's ``train_stage`` (curriculum's ``adaptive``
stage, an experts SVF expert) also checkpoint periodically: a process that dies mid-stage
resumes from the last periodic checkpoint, not the stage's start, to the same bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

import runtime.phases.curriculum  # noqa: F401  (registers the kernel)
import runtime.phases.experts  # noqa: F401
from forgelang.kinds.curriculum import CurriculumParams
from forgelang.kinds.experts import ExpertsParams
from runtime.artifacts import hash_directory
from runtime.checkpoints import load_checkpoint
from runtime.kernels import KERNELS
from tests.runtime.phases.kernel_inputs import INPUTS, phase_context

CURRICULUM = dict(levels=3, questions=16, batch_size=4, seq_len=64,
                  controller={"window": 4, "min_questions": 4, "assessment_questions": 2},
                  eudaimonia={"rules": ["Be honest."],
                              "bake": {"steps": 1, "trajectories": 2, "trajectory_tokens": 3,
                                       "batch_size": 2}},
                  eval={"examples": 3, "max_new_tokens": 4, "batch_size": 8, "levels": [1]})
EXPERTS = dict(self_analysis={"samples_per_skill": 2, "max_experts": 1},
               svf={"steps": 4, "batch_size": 2},
               nsga2={"evaluations": 8, "population": 4, "examples": 1},
               mixing={"cem_population": 3, "iterations": 2, "examples": 2},
               eval={"examples": 3, "max_new_tokens": 2, "batch_size": 8, "levels": [1]})
CASES = {  # kind: (params, where the process "dies", the stage's partial checkpoint)
    "curriculum": (CurriculumParams(**CURRICULUM), "adaptive step 4/", "adaptive.partial"),
    "experts": (ExpertsParams(**EXPERTS), "expert step 3/", "expert0.partial"),
}


class Died(Exception):
    """Stands for kill -9 in the middle of a stage."""


def _run(kind: str, root: Path, source, progress=lambda f, m: None):
    params = CASES[kind][0]
    return KERNELS.get(kind).run(phase_context(root, kind, None, progress), params, [source])


@pytest.mark.parametrize("kind", sorted(CASES))
def test_a_death_mid_stage_resumes_from_the_periodic_checkpoint(kind, tmp_path, monkeypatch):
    monkeypatch.setenv("FORGE_CHECKPOINT_INTERVAL", "0")  # a checkpoint after every step
    source = INPUTS["cognate"](tmp_path / "in")
    whole = _run(kind, tmp_path / "whole", source)
    _params, where, partial = CASES[kind]

    def die(_fraction, message):
        if where in message:
            raise Died(message)

    root = tmp_path / "died"
    with pytest.raises(Died):
        _run(kind, root, source, die)
    saved = load_checkpoint(root / "ckpt", partial)
    assert saved is not None and saved["step"] >= 2, "the stage saved its state as it trained"
    shown: list[str] = []
    resumed = _run(kind, root, source, lambda f, m: shown.append(m))
    stage = where.split(" step ")[0]
    first = next(m for m in shown if f"{stage} step " in m)
    assert f"{stage} step {saved['step'] + 1}/" in first, first  # not from the stage's start
    assert hash_directory(resumed.models[0].path) == hash_directory(whole.models[0].path)
    assert resumed.metrics == whole.metrics
