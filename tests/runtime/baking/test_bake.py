"""bake_prompt and bake_prompts on tiny Cognate and Llama models: the properties REFERENCES.md
lists for prompt baking (Bhargava et al., arXiv:2409.13697)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from runtime.baking import bake_prompts, mean_kl, sample_trajectories
from tests.runtime.baking.tiny import HELDOUT, PROMPT, QUERIES, bake, small_bake, weights

_DEFAULT_BAKES: dict = {}


def default_bake(make_model, tokenizer):
    """``bake(make_model(), tokenizer)`` (seed 0, full strength), made once per model kind:
    the tests that only read it share it (a Cognate bake takes seconds)."""
    kind = make_model.__name__
    if kind not in _DEFAULT_BAKES:
        _DEFAULT_BAKES[kind] = bake(make_model(), tokenizer)
    return _DEFAULT_BAKES[kind]


def test_empty_prompt_has_zero_kl_and_changes_nothing(make_model, tokenizer):
    model = make_model()
    before = weights(model)
    result = bake(model, tokenizer, prompt="")
    assert result.kl_before == 0.0 and result.kl_after == 0.0
    assert result.steps == 0
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())


def test_heldout_kl_falls_with_steps(make_model, tokenizer):
    result = default_bake(make_model, tokenizer)
    assert result.kl_before > 0.01
    assert result.kl_after < 0.85 * result.kl_before
    assert result.steps == 12 and result.trajectories == 8
    assert result.losses[-1] < result.losses[0]


def test_half_strength_applies_half_the_delta(make_model, tokenizer):
    base = weights(make_model())
    full = weights(default_bake(make_model, tokenizer).model)  # strength 1.0
    half = weights(bake(make_model(), tokenizer, strength=0.5).model)
    changed = [k for k in base if not torch.equal(full[k], base[k])]
    assert changed
    for key in changed:
        assert torch.allclose(half[key] - base[key], (full[key] - base[key]) / 2, atol=1e-6)


def test_baked_model_has_plain_weights_and_round_trips(make_model, tokenizer, tmp_path):
    model = default_bake(make_model, tokenizer).model
    assert all(type(m) is nn.Linear for m in model.modules() if isinstance(m, nn.Linear))
    assert set(model.state_dict()) == set(make_model().state_dict())
    model.save_pretrained(tmp_path)
    loaded = type(model).from_pretrained(tmp_path).eval()
    ids = torch.tensor([tokenizer(QUERIES[0]).input_ids])  # (1, T)
    with torch.no_grad():
        assert torch.equal(loaded(input_ids=ids).logits, model.eval()(input_ids=ids).logits)


def test_same_seed_same_bake(make_model, tokenizer):
    first, second = default_bake(make_model, tokenizer), bake(make_model(), tokenizer, seed=0)
    assert first.kl_after == second.kl_after and first.losses == second.losses
    a, b = weights(first.model), weights(second.model)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_heldout_queries_must_be_new(make_model, tokenizer):
    from runtime.baking import bake_prompt

    with pytest.raises(ValueError, match="held-out"):
        bake_prompt(make_model(), tokenizer, PROMPT, QUERIES, small_bake(), device="cpu",
                    seed=0, heldout_queries=QUERIES[:1])


def _heldout_kl(student, teacher, tokenizer, prompt: str) -> float:
    """KL of ``student`` (no prompt) to ``teacher`` prompted with ``prompt`` on HELDOUT."""
    held = sample_trajectories(teacher.eval(), tokenizer, prompt, HELDOUT, 6, 6, device="cpu",
                               seed=9, batch_size=6)
    return mean_kl(student.eval(), held, 6)


def test_sequential_baking_applies_both(make_model, tokenizer):
    second = "You are a robot."
    base, model = make_model(), make_model()
    short = dict(steps=8, trajectories=4)
    results = bake_prompts(model, tokenizer, [PROMPT, second], QUERIES, small_bake(**short),
                           device="cpu", seed=0, heldout_queries=HELDOUT, lr=1e-2)
    assert [r.model for r in results] == [model, model]
    # the same as two single bakes, one on top of the other
    by_hand = bake(bake(make_model(), tokenizer, seed=0, **short).model, tokenizer, second,
                   seed=1000, **short)
    a, b = weights(model), weights(by_hand.model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    # closer to the base prompted with either prompt than the base itself
    for prompt in (PROMPT, second):
        assert _heldout_kl(model, base, tokenizer, prompt) < _heldout_kl(base, base, tokenizer,
                                                                         prompt)


def test_mugrokfast_settings_train_the_adapters(tokenizer):
    from runtime.baking import bake_prompt
    from tests.runtime.baking.tiny import llama

    result = bake_prompt(llama(), tokenizer, PROMPT, QUERIES, small_bake(), device="cpu", seed=0,
                         heldout_queries=HELDOUT, optimizer={"muon_lr": 0.02})
    assert result.kl_after < result.kl_before
