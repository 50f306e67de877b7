"""The Cognate causal LM: causality, TRM gradient routing, deep supervision, halting head."""

import pytest
import torch

T = 16  # > window (4) and > memory chunk (4): both paths matter


def logits(model, ids, **kwargs):
    with torch.no_grad():
        return model(ids, **kwargs).logits


@pytest.mark.parametrize("t", [2, 7, 12])
def test_causal_through_window_memory_and_recursion(make_model, t):
    model = make_model()
    ids = torch.randint(3, 64, (2, T), generator=torch.Generator().manual_seed(1))
    base = logits(model, ids)
    changed = ids.clone()
    changed[:, t + 1 :] = (changed[:, t + 1 :] + 7) % 64
    out = logits(model, changed)
    torch.testing.assert_close(out[:, : t + 1], base[:, : t + 1], rtol=0, atol=1e-6)
    assert not torch.allclose(out[:, t + 1 :], base[:, t + 1 :])


def test_outputs_reach_beyond_one_window(make_model):
    """Recursion and memory carry information from far outside the attention window."""
    model = make_model()
    ids = torch.randint(3, 64, (1, T), generator=torch.Generator().manual_seed(2))
    changed = ids.clone()
    changed[0, 0] = (changed[0, 0] + 1) % 64
    assert not torch.allclose(logits(model, ids)[0, -1], logits(model, changed)[0, -1])


def count_block_calls(model, ids, **kwargs):
    """Calls of the first MAG block, split by whether autograd was recording."""
    calls = {"grad": 0, "no_grad": 0}

    def hook(module, args):
        calls["grad" if torch.is_grad_enabled() else "no_grad"] += 1

    handle = model.stack.layers[0].register_forward_pre_hook(hook)
    try:
        out = model(ids, **kwargs)
    finally:
        handle.remove()
    return calls, out


def test_only_last_cycle_of_each_step_is_backpropagated(make_model):
    model = make_model(n_latent_steps=3, n_cycles=3, supervision_steps=2).train()
    ids = torch.randint(3, 64, (2, 8))
    per_cycle = 3 + 1  # n latent updates + one answer update
    calls, _ = count_block_calls(model, ids, labels=ids)
    assert calls == {"grad": 2 * per_cycle, "no_grad": 2 * 2 * per_cycle}
    calls, _ = count_block_calls(model, ids)  # no labels: only the final step keeps a graph
    assert calls == {"grad": per_cycle, "no_grad": (2 * 3 - 1) * per_cycle}


def test_loss_averages_supervision_steps_and_trains_every_head(make_model):
    model = make_model().train()
    ids = torch.randint(3, 64, (2, 8))
    out = model(ids, labels=ids)
    assert out.step_lm_losses.shape == (2,)
    assert out.loss > out.step_lm_losses.mean()  # + the halting BCE, which is positive
    out.loss.backward()
    for name in ("halt_head.weight", "halt_head.bias", "persistent", "embed_tokens.weight",
                 "stack.layers.0.memory.gates.weight", "stack.layers.0.memory.init_w1",
                 "stack.layers.1.mag_gate.weight", "stack.layers.1.mlp.down_proj.weight"):
        grad = model.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0, name
    # with n_cycles >= 2 the initial states only enter through no-grad cycles (fixed, as in TRM)
    assert model.y_init.grad is None and model.z_init.grad is None


def test_initial_states_learn_when_first_cycle_is_tracked(make_model):
    model = make_model(n_cycles=1).train()
    ids = torch.randint(3, 64, (2, 8))
    model(ids, labels=ids).loss.backward()
    assert model.y_init.grad.abs().sum() > 0 and model.z_init.grad.abs().sum() > 0


def test_labels_do_not_change_logits(make_model):
    model = make_model()
    ids = torch.randint(3, 64, (2, 8))
    with torch.no_grad():
        torch.testing.assert_close(model(ids, labels=ids).logits, model(ids).logits)


def test_halting_target_is_exact_correctness(make_model):
    from runtime.nn.losses import exactly_correct

    targets = torch.tensor([[1, 2, -100], [1, 2, -100]])
    scores = torch.full((2, 3, 4), -5.0)
    scores[0, 0, 1] = scores[0, 1, 2] = 5.0  # row 0 right everywhere it is supervised
    scores[1, 0, 1] = scores[1, 1, 3] = 5.0  # row 1 wrong at position 1
    assert exactly_correct(scores, targets).tolist() == [1.0, 0.0]


def test_training_lowers_loss_on_repeated_sequence(make_model):
    model = make_model(seed=3).train()
    ids = torch.arange(3, 11).repeat(3)[None]  # (1, 24): 8 tokens repeated
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        out = model(ids, labels=ids)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.lm_loss.item())
    # uniform over the vocabulary is ln 64 = 4.16; the unigram plateau is ln 8 = 2.08
    assert losses[0] > 4.0 and losses[-1] < 1.5, losses


def test_qk_clip_caps_the_cognate_models_attention_logits(make_model):
    """MuGrokfast finds the model's QK-Clip targets; after a step, on the same input, a head
    whose max logit exceeded tau peaks at exactly tau and the other heads are unchanged."""
    from runtime.optim import MuGrokfast

    model = make_model().train()
    attn = model.stack.layers[0].attn
    d = model.config.d_model
    with torch.no_grad():  # large q/k weights for heads 0: logits well above a small tau
        attn.q_proj.weight[: attn.head_dim].mul_(40.0)
        attn.k_proj.weight[: attn.head_dim].mul_(40.0)
    gen = torch.Generator().manual_seed(0)
    h, persistent = torch.randn(2, 12, d, generator=gen), torch.randn(3, d, generator=gen)
    positions = torch.arange(12)
    tau = 2.0
    opt = MuGrokfast.from_config(model, {"qk_clip_tau": tau})
    assert len(opt.qk_targets) == len(model.stack.layers)

    def max_logits() -> torch.Tensor:
        with torch.no_grad():
            attn(h, persistent, positions)
        return attn.take_max_logits()

    before = max_logits()
    assert before[0] > tau
    attn(h, persistent, positions)  # what the step's clip sees
    opt.step()  # no gradients: only QK-Clip changes weights
    after = max_logits()
    clipped = before > tau
    torch.testing.assert_close(after[clipped], torch.full_like(after[clipped], tau))
    torch.testing.assert_close(after[~clipped], before[~clipped])


def test_max_logits_are_recorded_only_when_asked_and_in_training(make_model):
    model = make_model().train()
    ids = torch.randint(4, model.config.vocab_size, (2, 12))
    model(input_ids=ids)
    attn = model.stack.layers[0].attn
    assert attn._max_logits is None  # nobody asked for QK-Clip targets
    model.qk_clip_targets()
    model.eval()(input_ids=ids)
    assert attn._max_logits is None  # evaluation forwards are not recorded
    model.train()(input_ids=ids)
    assert attn.take_max_logits().shape == (model.config.n_heads,)
    assert attn._max_logits is None  # taking resets
