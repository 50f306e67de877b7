"""Sliding-window attention: a query sees exactly w tokens (itself included) plus N_p persistent."""

import pytest
import torch

from runtime.nn.attention import (
    SlidingWindowAttention,
    apply_rope,
    rope_tables,
    sliding_window_mask,
)

T, W, NP, D = 10, 3, 2, 16


def test_mask_has_window_plus_persistent_keys():
    mask = sliding_window_mask(T, W, NP)[0, 0]  # (T, NP + T)
    assert mask.shape == (T, NP + T)
    assert mask[:, :NP].all()  # persistent tokens are always visible
    for i in range(T):
        seen = mask[i, NP:].nonzero().flatten().tolist()
        assert seen == list(range(max(0, i - W + 1), i + 1))


def test_padding_keys_are_hidden_but_rows_stay_finite():
    pad = torch.ones(1, T)
    pad[:, :3] = 0  # left padding at positions 0..2
    mask = sliding_window_mask(T, W, 0, key_padding=pad)[0, 0]
    assert mask[4].nonzero().flatten().tolist() == [3, 4]  # key 2 is in the window but padding
    assert mask[1].nonzero().flatten().tolist() == [1]  # a padded query keeps only itself


def attention_weights():
    torch.manual_seed(0)
    attn = SlidingWindowAttention(D, n_heads=2, window=W, rope_theta=10000.0)
    h, persistent = torch.randn(2, T, D), torch.randn(NP, D)
    out, weights = attn(h, persistent, torch.arange(T), return_weights=True)
    return attn, h, persistent, out, weights


def test_weights_vanish_outside_window_and_cover_persistent():
    _, _, _, _, weights = attention_weights()  # (B, H, T, NP + T)
    allowed = sliding_window_mask(T, W, NP)
    assert torch.all(weights.masked_select(~allowed.expand_as(weights)) == 0)
    assert torch.all(weights[..., :NP] > 0)  # every query attends to the persistent tokens
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, T))


def test_fused_path_equals_explicit_weights():
    attn, h, persistent, out, _ = attention_weights()
    torch.testing.assert_close(attn(h, persistent, torch.arange(T)), out)


def test_output_depends_only_on_window():
    attn, h, persistent, _, _ = attention_weights()
    h = h[:1].clone().requires_grad_()
    attn(h, persistent, torch.arange(T))[0, 7].sum().backward()
    touched = (h.grad[0].abs().sum(-1) > 0).nonzero().flatten().tolist()
    assert touched == [5, 6, 7]


def test_rope_is_relative():
    """q . k after RoPE depends on the offset only, so shifting both positions changes nothing."""
    torch.manual_seed(0)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)

    def score(i: int, j: int) -> torch.Tensor:
        cq, sq = rope_tables(torch.tensor([i]), 8, 10000.0, torch.float32)
        ck, sk = rope_tables(torch.tensor([j]), 8, 10000.0, torch.float32)
        return (apply_rope(q, cq, sq) * apply_rope(k, ck, sk)).sum()

    torch.testing.assert_close(score(5, 2), score(12, 9))
    assert not torch.allclose(score(5, 2), score(5, 4))


@pytest.mark.parametrize("length", [40, 12])
def test_mag_block_fused_projections_match_the_modules(length):
    """MagBlock's one-matmul input projections give what the attention and memory modules
    compute from ``h`` on their own (same outputs, same parameter gradients), for a
    sequence of three memory chunks and one of a single chunk (which projects only what the
    memory reads; the write-side weights get no gradient, None or zero)."""
    from runtime.nn.blocks import MagBlock
    from runtime.nn.presets import preset_config

    torch.manual_seed(0)
    block = MagBlock(preset_config("smoke", memory_chunk=16)).double()  # float64: exact to rounding
    x = torch.randn(2, length, block.attn.q_proj.in_features, dtype=torch.float64)
    persistent = torch.randn(3, x.shape[-1], dtype=torch.float64)
    positions = torch.arange(x.shape[1])

    def reference(x):
        h = block.attn_norm(x)
        y_attn = block.attn(h, block.attn_norm(persistent), positions)
        gate = 2.0 * torch.sigmoid(block.mag_gate(block.mag_memory_norm(block.memory(h))))
        x = x + block.mag_attn_norm(y_attn) * gate
        return x + block.mlp.down_proj(torch.nn.functional.silu(block.mlp.gate_proj(
            block.mlp_norm(x))) * block.mlp.up_proj(block.mlp_norm(x)))

    fused, ref = block(x, persistent, positions), reference(x)
    torch.testing.assert_close(fused, ref)
    params = list(block.parameters())
    grads = torch.autograd.grad(fused.square().sum(), params, allow_unused=True)
    ref_grads = torch.autograd.grad(ref.square().sum(), params, allow_unused=True)
    for p, g, r in zip(params, grads, ref_grads, strict=True):
        torch.testing.assert_close(torch.zeros_like(p) if g is None else g,
                                   torch.zeros_like(p) if r is None else r)


@pytest.mark.parametrize(("length", "rows"), [(12, 4), (40, 6)])
def test_single_chunk_sequences_project_only_what_the_memory_reads(length, rows):
    """A sequence of one memory chunk never writes the memory, so the block's fused input
    projection computes attention q, k, v and the memory query only (4 d outputs, not
    6 d + 3): the write side's FLOPs are not spent, forward or backward."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from runtime.nn.blocks import MagBlock
    from runtime.nn.presets import preset_config

    class MatmulWidths(TorchDispatchMode):
        widths: list[int] = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func in (torch.ops.aten.mm.default, torch.ops.aten.addmm.default):
                self.widths.append(args[-1].shape[-1])
            return func(*args, **(kwargs or {}))

    torch.manual_seed(0)
    block = MagBlock(preset_config("smoke", memory_chunk=16))
    d = block.attn.q_proj.in_features
    x = torch.randn(2, length, d)
    with MatmulWidths() as mode:
        block(x, torch.randn(3, d), torch.arange(length))
    projection = max(w for w in mode.widths if w != block.mlp.gate_proj.out_features * 2)
    assert projection == rows * d + (3 if rows == 6 else 0)


def test_constants_shared_across_the_recursion_give_the_per_application_result():
    """The model builds each block's fused weights and persistent keys once per forward and
    reuses them in every application of the recursion; that gives the loss and the gradients
    of building them at every application (float64)."""
    from runtime.nn import TrmTitansMagForCausalLM
    from runtime.nn.blocks import BlockStack
    from runtime.nn.presets import preset_config

    torch.manual_seed(0)
    config = preset_config("smoke", n_latent_steps=2, n_cycles=2, supervision_steps=2)
    model = TrmTitansMagForCausalLM(config).double()
    ids = torch.randint(4, config.vocab_size, (2, 40))

    def loss_and_grads():
        loss = model(input_ids=ids, labels=ids).loss
        return loss, torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)

    shared_loss, shared = loss_and_grads()
    stack_forward = BlockStack.forward
    try:  # rebuild the constants at every application, as a model without the cache would
        BlockStack.forward = lambda self, x, p, pos, mask=None, constants=None: stack_forward(
            self, x, p, pos, mask, None)
        own_loss, own = loss_and_grads()
    finally:
        BlockStack.forward = stack_forward
    torch.testing.assert_close(shared_loss, own_loss)
    for a, b in zip(shared, own, strict=True):
        torch.testing.assert_close(a, b)


def test_rms_norm_matches_torch_and_gradchecks():
    """The one-node RMSNorm equals nn.RMSNorm (values, both gradients) and passes gradcheck."""
    from runtime.nn.norm import RMSNorm, _RMSNormFunction

    torch.manual_seed(0)
    ours, ref = RMSNorm(8, eps=1e-6), torch.nn.RMSNorm(8, eps=1e-6)
    with torch.no_grad():
        ours.weight.copy_(torch.randn(8))
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(3, 5, 8, requires_grad=True)
    out, expected = ours(x), ref(x)
    torch.testing.assert_close(out, expected)
    g = torch.randn_like(out)
    got = torch.autograd.grad(out, (x, ours.weight), g)
    want = torch.autograd.grad(expected, (x, ref.weight), g)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)
    xd = x.detach().double().requires_grad_()
    wd = ours.weight.detach().double().requires_grad_()
    assert torch.autograd.gradcheck(lambda a, w: _RMSNormFunction.apply(a, w, 1e-6), (xd, wd))
