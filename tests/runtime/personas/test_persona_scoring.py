"""Scoring groups of episodes in one evaluation, prompts in front, tool-call statistics;
the KL to a reference model."""

from __future__ import annotations

import copy

import pytest
import torch

from runtime.data import make_split
from runtime.eval import evaluate
from runtime.eval.harness import EvalRecord
from runtime.personas import (
    group_scores,
    kl_to_reference,
    reference_distributions,
    tool_statistics,
    with_prompt,
)


class Eval:
    max_new_tokens, batch_size = 3, 4


@pytest.fixture(scope="module")
def lm():
    from forgelang.kinds.cognate import CognateParams
    from runtime.nn import TrmTitansMagForCausalLM
    from runtime.phases.cognate import model_config
    from tests.runtime.phases.kernel_inputs import suite_tokenizer

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = TrmTitansMagForCausalLM(model_config(CognateParams(architecture="smoke"))).eval()
    return model, suite_tokenizer()


def test_with_prompt_puts_the_prompt_in_front_as_the_baking_teacher_sees_it():
    (ex,) = make_split(["persona"], 1, 0, "heldout", [1])
    (styled,) = with_prompt("Be brief.", [ex])
    assert styled.prompt == f"Be brief. {ex.prompt}" and styled.answer == ex.answer
    assert with_prompt("", [ex]) == [ex]


def test_group_scores_equal_scoring_each_group_alone(lm):
    model, tokenizer = lm
    episodes = make_split(["persona"], 3, 1, "heldout", [1])
    groups = [with_prompt("Arr.", episodes), episodes]
    together = group_scores(model, tokenizer, groups, Eval, "cpu")
    for (score, records), group in zip(together, groups, strict=True):
        alone = evaluate(model, tokenizer, group, max_new_tokens=3, batch_size=4, device="cpu")
        assert score == alone.accuracy
        assert [r.prediction for r in records] == [r.prediction for r in alone.records]
    with pytest.raises(ValueError):
        group_scores(model, tokenizer, [episodes, []], Eval, "cpu")


def test_tool_statistics_count_calls_and_calculator_errors():
    (ex,) = make_split(["tool_use"], 1, 0, "heldout", [1])
    records = [EvalRecord(ex, "7", "<|tool|>calc(3+4)<|/tool|><|result|>7<|/result|>7", True, 1),
               EvalRecord(ex, "", "<|tool|>calc(3+)<|/tool|><|result|>error: unexpected end "
                                  "of expression<|/result|>", False, 1),
               EvalRecord(ex, "9", "9", False, 0)]
    stats = tool_statistics(records)
    assert stats == {"calls": 2 / 3, "call_rate": 2 / 3, "valid": 0.5}
    assert "valid" not in tool_statistics(records[2:])


def test_kl_to_the_reference_is_zero_for_itself_and_grows_with_a_change(lm):
    model, tokenizer = lm
    texts = ["What is 1 plus 2?<|sep|>3<|eos|>", "Q: What color is snow?<|sep|>white<|eos|>"]
    reference = reference_distributions(model, tokenizer, texts, batch_size=2, device="cpu")
    assert kl_to_reference(model, reference) == pytest.approx(0.0, abs=1e-6)
    moved = copy.deepcopy(model)
    kls = []
    for scale in (0.01, 0.1):
        with torch.no_grad():
            for p, q in zip(moved.parameters(), model.parameters(), strict=True):
                p.copy_(q + scale * torch.randn(q.shape, generator=torch.Generator().manual_seed(1)))
        kls.append(kl_to_reference(moved, reference))
    assert 0 < kls[0] < kls[1]
