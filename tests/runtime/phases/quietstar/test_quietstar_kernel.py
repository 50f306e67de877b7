"""The quietstar kernel end to end on a Cognate model and on a Llama ``dir:`` model:
measured before and after, baked, thoughts trained and checked, saved with its head,
and a stopped run resumes to the same model."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from forgelang.kinds.quietstar import QuietStarParams
from runtime.artifacts import hash_directory
from runtime.kernels import KERNELS, InputModel, PhaseContext, StopRequested
from tests.runtime.phases.kernel_inputs import cognate_input, phase_context

EVAL = {"examples": 3, "max_new_tokens": 2, "batch_size": 4, "levels": [1]}
PARAMS = dict(thought_tokens=2, thoughts_per_position=2, steps=3, batch_size=2, seq_len=32,
              levels=[1], bake={"steps": 2, "trajectories": 2, "trajectory_tokens": 4,
                                "batch_size": 2},
              anti_theater={"examples": 3}, eval=EVAL)




def _ctx(root: Path, stop=None, progress=lambda f, m: None, metrics=None) -> PhaseContext:
    return phase_context(root, "quietstar", stop, progress, metrics)


def test_the_phase_measures_bakes_trains_checks_and_saves_its_head(source, tmp_path):
    from transformers import AutoModelForCausalLM

    import runtime.nn  # noqa: F401  (the Cognate model's Auto class)
    from runtime.thoughts.model import ThoughtfulLM

    logged: list[str] = []
    result = KERNELS.get("quietstar").run(_ctx(tmp_path, metrics=logged),
                                          QuietStarParams(**PARAMS), [source])
    (out,) = result.models
    m, phase = out.metrics, result.metrics
    assert 0 <= m["accuracy"] <= 1 and m["perplexity"] > 1
    assert {"anti_theater.thoughts", "anti_theater.none", "anti_theater.random",
            "anti_theater.shuffled", "anti_theater.gain", "coherence", "coherence.semantic",
            "coherence.syntactic", "coherence.predictive"} <= set(m)
    assert m["anti_theater.gain"] == m["anti_theater.thoughts"] - m["anti_theater.none"]
    assert phase["bake.steps"] == 2 and phase["bake.kl_before"] > 0
    assert phase["input_accuracy"] >= 0 and "thinker.accuracy" in phase
    assert {"loss.thoughts", "reward", "loss.policy", "mixing_weight", "bake.kl"} <= set(logged)
    lm = AutoModelForCausalLM.from_pretrained(out.path)
    assert type(lm).__name__ in ("TrmTitansMagForCausalLM", "LlamaForCausalLM")
    thinker = ThoughtfulLM.from_pretrained(out.path)
    assert thinker.tokens.length == 2 and any(p.abs().sum() > 0 for p in thinker.head.parameters())


def _stopped(root: Path, source: InputModel, at: str) -> None:
    stop = threading.Event()

    def on_progress(_fraction, message):
        if message.startswith(at):
            stop.set()

    with pytest.raises(StopRequested):
        KERNELS.get("quietstar").run(_ctx(root, stop=stop, progress=on_progress),
                                     QuietStarParams(**PARAMS), [source])


def test_a_stopped_run_resumes_to_the_same_model(source, tmp_path):
    whole = KERNELS.get("quietstar").run(_ctx(tmp_path / "whole"), QuietStarParams(**PARAMS),
                                         [source])
    _stopped(tmp_path / "resumed", source, "thoughts step 1/")
    assert any(p.name.startswith("thoughts.partial") for p in (tmp_path / "resumed/ckpt").iterdir())
    resumed = KERNELS.get("quietstar").run(_ctx(tmp_path / "resumed"), QuietStarParams(**PARAMS),
                                           [source])
    assert hash_directory(resumed.models[0].path) == hash_directory(whole.models[0].path)
    assert resumed.models[0].metrics == whole.models[0].metrics


def test_thoughts_before_answer_tokens_only_train_fewer_rows(tmp_path):
    """``thought_positions = answers`` trains a different model from the paper's setting."""
    source = cognate_input(tmp_path / "input")
    runs = {}
    for where in ("all", "answers"):
        params = QuietStarParams(**{**PARAMS, "thought_positions": where})
        result = KERNELS.get("quietstar").run(_ctx(tmp_path / where), params, [source])
        runs[where] = hash_directory(result.models[0].path)
        assert "anti_theater.nll_gain" in result.metrics
    assert runs["all"] != runs["answers"]
