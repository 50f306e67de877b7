"""The curriculum kernel end to end on Cognate, Llama ``dir:`` and ternary inputs: every
part measured and recorded under declared names, stops resume to the same bytes, what is
off is not recorded, what is not built is refused before any work."""

from __future__ import annotations

import fnmatch
import threading
from pathlib import Path

import pytest

import runtime.phases.curriculum  # noqa: F401  (registers the kernel)
from forgelang.kinds.curriculum import KIND, CurriculumParams, plan_steps
from runtime.artifacts import hash_directory
from runtime.kernels import KERNELS, InputModel, PhaseContext, StopRequested
from tests.runtime.phases.kernel_inputs import INPUTS, phase_context, suite_tokenizer

EVAL = {"examples": 3, "max_new_tokens": 4, "batch_size": 8, "levels": [1]}
PARAMS = dict(levels=3, questions=16, batch_size=4, seq_len=64,
              controller={"window": 4, "min_questions": 4, "assessment_questions": 2},
              tool_use={"fraction": 0.3}, dream={"every": 8, "replay_ratio": 0.5, "buffer_size": 6},
              eudaimonia={"rules": ["Be honest.", "Be kind."],
                          "bake": {"steps": 1, "trajectories": 2, "trajectory_tokens": 3,
                                   "batch_size": 2}},
              eval=EVAL)
PLAN = plan_steps(16, 4, replay_ratio=0.5, every=8, dreams=True)




def _run(root: Path, source: InputModel, stop=None, progress=lambda f, m: None, metrics=None,
         **changes):
    ctx: PhaseContext = phase_context(root, "curriculum", stop, progress, metrics)
    return KERNELS.get("curriculum").run(ctx, CurriculumParams(**{**PARAMS, **changes}), [source])


def test_every_part_is_measured_and_recorded_under_declared_names(source, tmp_path):
    from transformers import AutoModelForCausalLM

    logged, shown = [], []
    result = _run(tmp_path, source, metrics=logged, progress=lambda f, m: shown.append(f))
    phase, (out,) = result.metrics, result.models
    assert 1 <= phase["edge_level"] <= 3 and 1 <= phase["level"] <= 3
    for k in (1, 2, 3):
        assert 0 <= phase[f"level.{k}.start"] <= 1 and 0 <= phase[f"level.{k}.end"] <= 1
    assert {"forgetting", "forgetting.early_levels", "forgetting.other_families",
            "tool.validity", "tool.correctness", "tool.accuracy_with_tools",
            "tool.accuracy_without_tools", "eudaimonia.adherence_before",
            "eudaimonia.adherence_after", "bake.rule1.kl_after", "input_accuracy",
            "curriculum.accuracy", "loss"} <= set(phase)
    replayed = sum(s.count for s in PLAN if s.kind == "replay")
    assert phase["dream.replayed"] == replayed and phase["tool.episodes_trained"] > 0
    assert logged.count("loss.adaptive") == len(PLAN)  # one step per planned batch
    assert logged.count("level") == logged.count("rolling_accuracy") == 4  # the new batches
    names = set(logged) | set(phase) | set(out.metrics)
    assert [n for n in names if not KIND.produces(n)] == []
    assert [p for p in KIND.metrics if not any(fnmatch.fnmatchcase(n, p) for n in names)] == []
    assert shown == sorted(shown) and shown[-1] == 1.0
    loaded = AutoModelForCausalLM.from_pretrained(out.path)
    assert sum(p.numel() for p in loaded.parameters()) > 0


def test_a_stopped_run_resumes_to_the_same_model(source, tmp_path):
    whole = _run(tmp_path / "whole", source)
    for when in ("adaptive step 2/", "baking rule 1/"):
        stop = threading.Event()
        root = tmp_path / when.split()[0]

        def on_progress(_fraction, message, stop=stop, when=when):
            if message.startswith(when):
                stop.set()

        with pytest.raises(StopRequested):
            _run(root, source, stop, on_progress)
        resumed = _run(root, source)
        assert hash_directory(resumed.models[0].path) == hash_directory(whole.models[0].path)
        assert resumed.metrics == whole.metrics


def test_what_is_off_is_not_trained_or_recorded(tmp_path):
    source = INPUTS["llama"](tmp_path / "in")
    result = _run(tmp_path, source, tool_use={"enabled": False},
                  eudaimonia={"enabled": False}, dream={"enabled": False})
    phase = result.metrics
    assert phase["dream.replayed"] == 0 and phase["tool.episodes_trained"] == 0
    assert not [n for n in phase if n.startswith(("eudaimonia.", "bake.", "tool.v"))]


def test_a_ternary_input_comes_back_ternary(tmp_path):
    from runtime.formats.ternary import TernaryLinear, default_modules, save_ternary
    from runtime.phases.toolkit.inputs import load_model

    float_in = INPUTS["cognate"](tmp_path / "float")
    model = load_model(float_in.path, "cpu")
    save_ternary(model, suite_tokenizer(), tmp_path / "ternary", default_modules(model), 8)
    result = _run(tmp_path / "run", InputModel(path=tmp_path / "ternary", role="ternary"),
                  eudaimonia={"enabled": False})
    out = load_model(result.models[0].path, "cpu")
    assert any(isinstance(m, TernaryLinear) for m in out.modules())
    assert 0 <= result.metrics["curriculum.accuracy"] <= 1


def test_what_is_not_built_is_refused_before_any_work(tmp_path):
    for change in ({"data": "mine.jsonl"}, {"levels": 11}):
        with pytest.raises(NotImplementedError):
            KERNELS.get("curriculum").run(phase_context(tmp_path, "curriculum"),
                                          CurriculumParams(**{**PARAMS, **change}), [])
