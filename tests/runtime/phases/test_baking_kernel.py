"""The baking kernel end to end on a Cognate model, a Llama ``dir:`` model and a
``forge_ternary`` model: A and B cycles alternate, every iteration is recorded (cycle,
score, KL to the input, persona chosen), the personas are kept beside the model, a
stopped run resumes to the same bytes, and a ternary input comes back ternary with the
cost of re-quantising it recorded."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch

from forgelang.kinds.baking import KIND, BakingParams
from runtime.artifacts import hash_directory
from runtime.kernels import InputModel, PhaseContext, StopRequested
from runtime.phases.baking import BakingKernel
from runtime.phases.baking.result import PERSONAS_FILE
from tests.runtime.phases.kernel_inputs import INPUTS, cognate_input, phase_context

EVAL = {"examples": 3, "max_new_tokens": 3, "batch_size": 4, "levels": [1]}
PARAMS = dict(max_iterations=3, a_cycle={"episodes": 3},
              b_cycle={"personas": 2, "episodes": 3, "persona_tokens": 6},
              bake={"steps": 2, "trajectories": 2, "trajectory_tokens": 4, "batch_size": 2},
              eval=EVAL)




class Logged:
    """A metric sink keeping ``(name, value, step)``."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, int | None]] = []

    def __call__(self, name, value, step, model) -> None:
        self.rows.append((name, value, step))

    def series(self, name: str) -> list[tuple[int | None, float]]:
        return [(step, value) for n, value, step in self.rows if n == name]


def _ctx(root: Path, stop=None, progress=lambda f, m: None, logged=None) -> PhaseContext:
    ctx = phase_context(root, "baking", stop, progress)
    if logged is not None:
        ctx.metric_sink = logged
    return ctx


def _run(root: Path, source: InputModel, logged=None, **changes):
    return BakingKernel().run(_ctx(root, logged=logged), BakingParams(**{**PARAMS, **changes}),
                              [source])


@pytest.fixture(scope="module")
def whole(source, tmp_path_factory):
    """An uninterrupted run on ``source``: its result and what it logged."""
    torch.set_num_threads(1)
    logged = Logged()
    return _run(tmp_path_factory.mktemp("whole"), source, logged), logged


def test_cycles_alternate_and_every_iteration_is_recorded(whole):
    result, logged = whole
    (out,) = result.models
    assert [v for _, v in logged.series("cycle")] == [0.0, 1.0, 0.0]  # A, B, A
    assert [s for s, _ in logged.series("score")] == [1, 2, 3]
    kls = [v for _, v in logged.series("kl")]
    assert len(kls) == 3 and all(k > 0 for k in kls)  # every bake moved the model
    assert {s for s, _ in logged.series("persona.0.score")} == {2}
    assert len(logged.series("bake.kl_after")) == 3
    phase = result.metrics
    assert phase["iterations"] == 3 and phase["a_cycle.iterations"] == 2
    assert phase["b_cycle.iterations"] == 1 and phase["plateau.stopped"] == 0
    assert phase["kl"] > 0 and 0 <= phase["a_cycle.final_score"] <= 1
    assert out.details["cycles"] == ["a", "b", "a"] and len(out.details["personas"]) == 1
    names = set(phase) | set(out.metrics) | {n for n, _, _ in logged.rows}
    assert all(KIND.produces(n) for n in names), sorted(n for n in names if not KIND.produces(n))
    saved = json.loads((out.path / PERSONAS_FILE).read_text())
    (b,) = [it for it in saved["iterations"] if it["cycle"] == "b"]
    assert saved["chosen"] == b["persona"] == out.details["personas"][0]
    assert len(b["candidates"]) == 2 and b["score"] == max(s for _, s in b["candidates"])


def test_the_tool_bake_moves_the_model_toward_the_prompted_teacher(tmp_path):
    """The A-cycle's bake lowers the held-out KL to the teacher prompted with the tool prompt."""
    source = cognate_input(tmp_path / "in")
    logged = Logged()
    _run(tmp_path / "run", source, logged, max_iterations=1, half_baking=1.0,
         bake={"steps": 8, "trajectories": 4, "trajectory_tokens": 6, "batch_size": 2})
    (before,), (after,) = ([v for s, v in logged.series(n) if s == 1]
                           for n in ("bake.kl_before", "bake.kl_after"))
    assert after < before


def _stopped(root: Path, source: InputModel, at: str) -> None:
    stop = threading.Event()

    def on_progress(_fraction, message):
        if message.startswith(at):
            stop.set()

    with pytest.raises(StopRequested):
        BakingKernel().run(_ctx(root, stop=stop, progress=on_progress), BakingParams(**PARAMS),
                           [source])


def test_a_stopped_run_resumes_to_the_same_model(source, whole, tmp_path):
    whole, _ = whole
    _stopped(tmp_path / "resumed", source, "iteration 2 bake step 1/")
    assert any(p.name.startswith("iterations") for p in (tmp_path / "resumed/ckpt").iterdir())
    resumed = _run(tmp_path / "resumed", source)
    assert hash_directory(resumed.models[0].path) == hash_directory(whole.models[0].path)
    assert resumed.metrics == whole.metrics


def test_a_ternary_input_comes_back_ternary_with_its_requantization_cost(tmp_path):
    from transformers import AutoModelForCausalLM

    from runtime.formats.ternary import TernaryLinear, save_ternary
    from runtime.phases.toolkit.inputs import load_model, load_tokenizer

    float_dir = cognate_input(tmp_path / "float").path
    save_ternary(load_model(float_dir, "cpu"), load_tokenizer(float_dir), tmp_path / "ternary",
                 activation_bits=8)
    result = _run(tmp_path / "run", InputModel(path=tmp_path / "ternary", role="ternary"))
    config = json.loads((result.models[0].path / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "forge_ternary"
    assert config["quantization_config"]["activation_bits"] == 8
    reloaded = AutoModelForCausalLM.from_pretrained(result.models[0].path)
    assert any(isinstance(m, TernaryLinear) for m in reloaded.modules())
    phase = result.metrics
    assert {"requantization.float_accuracy", "requantization.float_tool_score",
            "requantization.float_persona_score"} <= set(phase)
    assert phase["requantization.kl"] > 0  # the bakes' float deltas do not all survive


def test_plateaued_cycles_stop_the_loop_early(tmp_path):
    """min_delta 1: no score can gain that much, so each cycle plateaus after window + 1
    iterations: A, B, A (A flat), B (B flat) and the loop stops before max_iterations."""
    logged = Logged()
    result = _run(tmp_path, INPUTS["llama"](tmp_path / "in"), logged, max_iterations=8,
                  plateau={"window": 1, "min_delta": 1.0})
    assert [v for _, v in logged.series("cycle")] == [0.0, 1.0, 0.0, 1.0]
    assert result.metrics["plateau.stopped"] == 1 and result.metrics["iterations"] == 4
    assert result.metrics["plateau.a_cycle"] == result.metrics["plateau.b_cycle"] == 1


def test_user_jsonl_episodes_are_scored_with_the_suite_and_bad_files_are_refused(tmp_path):
    from runtime.data import save_jsonl
    from runtime.data.example import Example
    from runtime.phases.baking.episodes import draw_episodes
    from tests.runtime.phases.kernel_inputs import suite_tokenizer

    path = tmp_path / "mine.jsonl"
    save_jsonl([Example(f"What is {i} plus {i}?", str(2 * i), "jsonl") for i in range(6)], path)
    params = BakingParams(**{**PARAMS, "data": str(path)})
    episodes = draw_episodes(params, suite_tokenizer(), 5, 128)
    assert len(episodes.data) == 3 and len(episodes.scored_tools) == 6
    lines = {f"What is {i} plus {i}?<|sep|>" for i in range(6)}
    scored = {f"{ex.prompt}<|sep|>" for ex in episodes.data}
    assert set(episodes.tool_queries[:3]) == lines - scored  # the rest of the file bakes
    suite_queries = episodes.tool_queries[3:]
    assert 1 <= len(suite_queries) <= PARAMS["bake"]["trajectories"]
    assert len({len(suite_tokenizer()(q).input_ids) for q in suite_queries}) == 1  # one forward
    assert not set(episodes.heldout_queries("a")) & set(episodes.tool_queries)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x"}\n')
    with pytest.raises(ValueError, match="bad.jsonl"):
        _run(tmp_path / "run", cognate_input(tmp_path / "in"), data=str(bad))


def test_a_bake_strength_other_than_half_baking_is_refused():
    with pytest.raises(ValueError, match="half_baking"):
        BakingParams(half_baking=0.5, bake={"strength": 0.3})
    assert BakingParams(half_baking=0.3, bake={"strength": 0.3}).half_baking == 0.3
