"""The adaptive curriculum as a batch source: the model's answers move the level, replay
steps serve earlier questions, a restored state serves the same batches; the objective
scores the training step's own logits."""

from __future__ import annotations

import pytest
import torch

from runtime.curriculum.adaptive import AdaptiveCurriculum, CurriculumObjective
from runtime.curriculum.controller import ControllerSettings, LevelController
from runtime.curriculum.questions import QuestionStream
from runtime.curriculum.replay import ReplayBuffer, plan_steps
from runtime.curriculum.scoring import correct_rows
from tests.runtime.phases.kernel_inputs import suite_tokenizer

SETTINGS = ControllerSettings(levels=4, threshold=0.75, tolerance=0.05, window=4, min_questions=4)


def _curriculum(start: int = 1) -> AdaptiveCurriculum:
    stream = QuestionStream(suite_tokenizer(), 64, seed=3, tool_fraction=0.25)
    steps = plan_steps(16, 4, replay_ratio=0.5, every=8, dreams=True)
    return AdaptiveCurriculum(stream, LevelController(SETTINGS, start), ReplayBuffer(6, 5), steps)


def test_right_answers_move_the_level_and_replay_serves_earlier_questions():
    c = _curriculum()
    served = []
    for step, plan in enumerate(c.steps):
        c(step)
        kind, refs = c._serving
        served.append((kind, refs))
        stats = c.observe([True] * plan.count)
        if kind == "new":
            assert stats["level"] == refs[0].level and stats["rolling_accuracy"] == 1.0
    new_levels = [refs[0].level for kind, refs in served if kind == "new"]
    assert new_levels == [1, 2, 3, 4]  # every batch of 4 right answers moves one level up
    trained = {r for kind, refs in served if kind == "new" for r in refs}
    replayed = [r for kind, refs in served if kind == "replay" for r in refs]
    assert replayed and set(replayed) <= trained
    assert c.replayed == len(replayed) == 8 and c.levels_trained == [1, 2, 3, 4]


def test_a_restored_state_serves_the_same_batches():
    first, second = _curriculum(), _curriculum()
    outcomes = [[True, False, True, True], [False] * 4, [True] * 4]
    for step, correct in enumerate(outcomes):
        first(step)
        first.observe(correct[:first.steps[step].count])
    second.load_state_dict(first.state_dict())
    for step in range(len(outcomes), len(first.steps)):
        a, b = first(step), second(step)
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
        first.observe([True] * first.steps[step].count)
        second.observe([True] * first.steps[step].count)
    assert first.state_dict() == second.state_dict()


def test_steps_must_come_in_order():
    c = _curriculum()
    with pytest.raises(RuntimeError):
        c(1)
    with pytest.raises(RuntimeError):
        c.observe([True])


def test_the_objective_reports_the_training_steps_own_answers():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(suite_tokenizer()), hidden_size=32,
                                         intermediate_size=64, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1))
    c = _curriculum()
    objective = CurriculumObjective(model, c)
    input_ids, labels = c(0)
    out = objective(input_ids=input_ids, labels=labels)
    expected = correct_rows(model(input_ids=input_ids).logits, labels)
    assert out.loss.requires_grad
    assert out.stats["rolling_accuracy"] == pytest.approx(float(expected.float().mean()))
    assert c.next_step == 1 and c.controller.asked == 4
