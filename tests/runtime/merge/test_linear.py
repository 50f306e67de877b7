"""Linear and task arithmetic on tiny Llama models (REFERENCES.md properties)."""

from __future__ import annotations

import pytest
import torch

from runtime.merge import MergeRequest, merge_models
from tests.runtime.merge.tiny_models import state_equal


def test_linear_of_identical_models_is_the_model(llamas):
    a = llamas[0]
    merged = merge_models(MergeRequest("linear", weights=(0.3, 0.7)), [a, a])
    # (0.3 a + 0.7 a) / 1.0 equals a to float rounding
    for k, v in a.state_dict().items():
        torch.testing.assert_close(merged.state_dict()[k], v, rtol=0, atol=1e-7)


def test_linear_is_the_weighted_mean_and_weights_are_normalised(llamas):
    a, b, c = llamas
    merged = merge_models(MergeRequest("linear", weights=(1.0, 2.0, 1.0)), llamas)
    scaled = merge_models(MergeRequest("linear", weights=(3.0, 6.0, 3.0)), llamas)
    key = "model.layers.1.mlp.down_proj.weight"
    want = (a.state_dict()[key] + 2 * b.state_dict()[key] + c.state_dict()[key]) / 4
    torch.testing.assert_close(merged.state_dict()[key], want)
    torch.testing.assert_close(scaled.state_dict()[key], merged.state_dict()[key])


def test_inputs_are_untouched_and_result_is_a_new_model(llamas):
    before = {k: v.clone() for k, v in llamas[0].state_dict().items()}
    merged = merge_models(MergeRequest("linear"), llamas)
    assert merged is not llamas[0] and type(merged) is type(llamas[0])
    assert all(torch.equal(v, llamas[0].state_dict()[k]) for k, v in before.items())


def test_task_arithmetic_adds_scaled_task_vectors_to_the_first(llamas):
    a, b, c = llamas
    req = MergeRequest("task_arithmetic", {"lambda": 0.5}, weights=(1.0, 1.0, 2.0), base="first")
    merged = merge_models(req, llamas)
    key = "model.embed_tokens.weight"
    sa, sb, sc = (m.state_dict()[key] for m in llamas)
    torch.testing.assert_close(merged.state_dict()[key], sa + 0.5 * ((sb - sa) + 2 * (sc - sa)))


def test_task_arithmetic_mean_base_equal_weights_is_the_mean(llamas):
    ta = merge_models(MergeRequest("task_arithmetic"), llamas)
    lin = merge_models(MergeRequest("linear"), llamas)
    for k, v in lin.state_dict().items():
        torch.testing.assert_close(ta.state_dict()[k], v)


def test_mismatched_shapes_are_a_clear_error(llamas, gpt2s):
    with pytest.raises(ValueError, match="same-shape"):
        merge_models(MergeRequest("linear"), [llamas[0], gpt2s[0]])


def test_weight_count_must_match_models(llamas):
    with pytest.raises(ValueError, match="3 weights given for 2"):
        merge_models(MergeRequest("linear", weights=(1, 1, 1)), llamas[:2])


def test_linear_on_tied_cognate_keeps_the_tie(cognates):
    merged = merge_models(MergeRequest("linear", weights=(1.0, 3.0)), cognates)
    assert merged.lm_head.weight.data_ptr() == merged.embed_tokens.weight.data_ptr()
    want = (cognates[0].embed_tokens.weight + 3 * cognates[1].embed_tokens.weight) / 4
    torch.testing.assert_close(merged.embed_tokens.weight, want)
    assert not state_equal(merged, cognates[0])
