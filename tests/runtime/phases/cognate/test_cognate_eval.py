"""The specialisation margin and its standard error."""

import math

import pytest

from runtime.phases.cognate.eval import specialisation


def test_margin_is_own_accuracy_minus_the_best_other_with_its_standard_error():
    measured = [
        {"role_accuracy.reasoning": 0.2, "role_examples.reasoning": 40.0,
         "role_accuracy.memory": 0.1, "role_examples.memory": 40.0},
        {"role_accuracy.reasoning": 0.05, "role_examples.reasoning": 40.0,
         "role_accuracy.memory": 0.5, "role_examples.memory": 40.0},
        {"role_accuracy.reasoning": 0.1, "role_examples.reasoning": 40.0,
         "role_accuracy.memory": 0.0, "role_examples.memory": 40.0},
    ]
    out = specialisation(["reasoning", "memory", "general"], measured)
    assert out["specialisation.reasoning"] == pytest.approx(0.2 - 0.1)  # best other: 0.1
    assert out["specialisation.memory"] == pytest.approx(0.5 - 0.1)
    assert out["specialisation_stderr.reasoning"] == pytest.approx(
        math.sqrt((0.2 * 0.8 + 0.1 * 0.9) / 40))
    assert out["specialisation_stderr.memory"] == pytest.approx(
        math.sqrt((0.5 * 0.5 + 0.1 * 0.9) / 40))
    assert "specialisation.general" not in out  # no model measured that role


def test_no_standard_error_without_the_example_count():
    measured = [{"role_accuracy.memory": 0.3}, {"role_accuracy.memory": 0.1}]
    out = specialisation(["memory", "general"], measured)
    assert out == {"specialisation.memory": pytest.approx(0.2)}


def test_answer_perplexity_is_the_same_in_padded_batches_across_memory_chunks():
    """Batched scoring equals one example at a time on the Cognate model: rows shorter than
    the batch cross several 4-token memory chunks, so padding that reached a real token (or a
    pad token scored) would change the value."""
    import torch

    from runtime.data import TASKS, build_tokenizer, make_split
    from runtime.eval import answer_perplexity
    from runtime.nn import TrmTitansMagForCausalLM, preset_config

    tokenizer = build_tokenizer(108, seed=0)
    torch.manual_seed(0)
    model = TrmTitansMagForCausalLM(preset_config("smoke", memory_chunk=4))
    examples = make_split(TASKS.names(), 10, seed=2, split="heldout")
    one = answer_perplexity(model, tokenizer, examples, batch_size=1, device="cpu")
    batched = answer_perplexity(model, tokenizer, examples, batch_size=10, device="cpu")
    assert batched == pytest.approx(one, rel=1e-5)
    assert 1.0 < one < 108 * 4  # a random model: near-uniform, not a degenerate value
