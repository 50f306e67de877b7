"""Titans neural memory: the update rule, its closed form, explicit gradients and causality."""

import pytest
import torch
import torch.nn.functional as F

from runtime.nn.memory import NeuralMemory
from runtime.nn.memory_rule import (
    MemoryState,
    memory_read,
    weighted_memory_gradients,
    write_chunk,
)

B, C, D, H = 2, 5, 6, 7


def random_state(seed: int = 0, zero_surprise: bool = False) -> MemoryState:
    g = torch.Generator().manual_seed(seed)
    w1, w2 = torch.randn(B, H, D, generator=g), torch.randn(B, D, H, generator=g) / 3
    s1, s2 = torch.randn(B, H, D, generator=g), torch.randn(B, D, H, generator=g)
    if zero_surprise:
        s1, s2 = torch.zeros_like(s1), torch.zeros_like(s2)
    return MemoryState(w1, w2, s1, s2)


def keys_values(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, C, D, generator=g), torch.randn(B, C, D, generator=g)


def per_token_grads(state: MemoryState, k, v) -> tuple[torch.Tensor, torch.Tensor]:
    """Autograd reference: grad of ||M(k_t) - v_t||^2 for each token, (B, C, ...) each."""
    g1s, g2s = [], []
    for t in range(C):
        w1 = state.w1.detach().requires_grad_()
        w2 = state.w2.detach().requires_grad_()
        loss = ((memory_read(w1, w2, k[:, t : t + 1]) - v[:, t : t + 1]) ** 2).sum()
        g1, g2 = torch.autograd.grad(loss, (w1, w2))  # sums over the independent batch rows
        g1s.append(g1)
        g2s.append(g2)
    return torch.stack(g1s, 1), torch.stack(g2s, 1)


def test_explicit_gradients_equal_autograd():
    state, (k, v) = random_state(), keys_values()
    coef = torch.randn(B, C, 2)
    g1, g2 = weighted_memory_gradients(state.w1, state.w2, k, v, coef)
    r1, r2 = per_token_grads(state, k, v)
    torch.testing.assert_close(g1, torch.einsum("bcm,bchd->bmhd", coef, r1))
    torch.testing.assert_close(g2, torch.einsum("bcm,bcdh->bmdh", coef, r2))


def test_eta_alpha_zero_is_plain_gradient_descent():
    """With eta = alpha = 0, a chunk write is one SGD step on sum_t theta_t ||M(k_t) - v_t||^2."""
    state, (k, v) = random_state(zero_surprise=False), keys_values()
    theta = torch.rand(B, C)
    zero = torch.zeros(B, C)
    new = write_chunk(state, k, v, eta=zero, theta=theta, alpha=zero)
    w1 = state.w1.detach().requires_grad_()
    w2 = state.w2.detach().requires_grad_()
    loss = (theta[..., None] * (memory_read(w1, w2, k) - v) ** 2).sum()
    g1, g2 = torch.autograd.grad(loss, (w1, w2))
    # the old surprise is forgotten entirely (eta = 0), so no momentum term survives
    torch.testing.assert_close(new.w1, state.w1 - g1)
    torch.testing.assert_close(new.w2, state.w2 - g2)
    assert not torch.allclose(new.w2, state.w2)  # the step really moved the memory


def test_closed_form_equals_token_by_token_recurrence():
    """Random gates: write_chunk equals S_t = eta S - theta g; M_t = (1 - alpha) M + S, per token."""
    state, (k, v) = random_state(), keys_values()
    g = torch.Generator().manual_seed(3)
    eta, theta, alpha = (torch.rand(B, C, generator=g) for _ in range(3))
    r1, r2 = per_token_grads(state, k, v)  # gradients at the chunk's starting memory
    m1, m2, s1, s2 = state.w1, state.w2, state.s1, state.s2
    for t in range(C):
        e, th, a = (x[:, t, None, None] for x in (eta, theta, alpha))
        s1, s2 = e * s1 - th * r1[:, t], e * s2 - th * r2[:, t]
        m1, m2 = (1 - a) * m1 + s1, (1 - a) * m2 + s2
    new = write_chunk(state, k, v, eta, theta, alpha)
    for got, want in zip((new.w1, new.w2, new.s1, new.s2), (m1, m2, s1, s2), strict=True):
        torch.testing.assert_close(got, want)


def test_full_forgetting_resets_to_surprise():
    state, (k, v) = random_state(), keys_values()
    ones, zero = torch.ones(B, C), torch.zeros(B, C)
    new = write_chunk(state, k, v, eta=ones, theta=zero, alpha=ones)
    torch.testing.assert_close(new.w1, state.s1)  # M = 0 * M + S with S unchanged


def test_memory_reads_only_earlier_chunks():
    torch.manual_seed(0)
    memory = NeuralMemory(d_model=D, hidden=H, chunk=4)
    h = torch.randn(1, 12, D)
    base = memory(h)
    changed = h.clone()
    changed[:, 5:7] += torch.randn(1, 2, D)  # two tokens inside chunk 1 (positions 4..7)
    out = memory(changed)
    torch.testing.assert_close(out[:, :5], base[:, :5])  # causal: nothing before the change moves
    # position 7 comes after the change but reads the memory of chunk 0's end only
    torch.testing.assert_close(out[:, 7], base[:, 7])
    assert not torch.allclose(out[:, 8:], base[:, 8:])  # chunk 2 reads chunk 1's write
    earlier = h.clone()
    earlier[:, 0] += 1.0  # a change in chunk 0 reaches chunk 1 through the memory
    assert not torch.allclose(memory(earlier)[:, 4:8], base[:, 4:8])


def test_padding_tokens_do_not_write():
    torch.manual_seed(0)
    memory = NeuralMemory(d_model=D, hidden=H, chunk=4)
    h = torch.randn(1, 8, D)
    mask = torch.ones(1, 8)
    mask[:, :4] = 0  # the whole first chunk is padding
    masked = memory(h, mask)
    changed = h.clone()
    changed[:, :4] = torch.randn(1, 4, D)
    torch.testing.assert_close(memory(changed, mask)[:, 4:], masked[:, 4:])


def test_write_is_differentiable_for_outer_training():
    torch.manual_seed(0)
    memory = NeuralMemory(d_model=D, hidden=H, chunk=4)
    torch.nn.init.normal_(memory.init_w1)
    torch.nn.init.normal_(memory.init_w2)
    memory(torch.randn(2, 8, D))[:, 4:].pow(2).sum().backward()  # only chunk 1 uses a write
    for p in (memory.key_proj.weight, memory.value_proj.weight, memory.gates.weight):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_zero_surprise_as_none_and_last_write_without_surprise():
    """A None surprise writes exactly like explicit zeros; a last write skips only the surprise."""
    zeros = random_state(zero_surprise=True)
    none = MemoryState(zeros.w1, zeros.w2, None, None)
    k, v = keys_values()
    g = torch.Generator().manual_seed(3)
    eta, theta, alpha = (torch.rand(B, C, generator=g) for _ in range(3))
    ref = write_chunk(zeros, k, v, eta, theta, alpha, max_grad_norm=1.0)
    new = write_chunk(none, k, v, eta, theta, alpha, max_grad_norm=1.0)
    for a, b in ((new.w1, ref.w1), (new.w2, ref.w2), (new.s1, ref.s1), (new.s2, ref.s2)):
        torch.testing.assert_close(a, b)
    full = random_state()
    last = write_chunk(full, k, v, eta, theta, alpha, with_surprise=False)
    both = write_chunk(full, k, v, eta, theta, alpha)
    torch.testing.assert_close(last.w1, both.w1)
    torch.testing.assert_close(last.w2, both.w2)
    assert last.s1 is None and last.s2 is None


def materialised_read_write(memory: NeuralMemory, key, value, query, gate_logits, token_mask):
    """The module's read/write with the per-sequence weights built (``write_chunk``)."""
    b, t, _ = key.shape
    k, q = F.normalize(key, dim=-1), F.normalize(query, dim=-1)
    eta, theta, alpha = memory.gate_values(gate_logits, token_mask)
    state = MemoryState(memory.init_w1.expand(b, -1, -1), memory.init_w2.expand(b, -1, -1),
                        None, None)
    reads = []
    for start in range(0, t, memory.chunk):
        end, span = min(start + memory.chunk, t), slice(start, min(start + memory.chunk, t))
        reads.append(memory_read(state.w1, state.w2, q[:, span]))
        if end < t:
            state = write_chunk(state, k[:, span], value[:, span], eta[:, span], theta[:, span],
                                alpha[:, span], memory.max_grad_norm, end + memory.chunk < t)
    return torch.cat(reads, dim=1)


@pytest.mark.parametrize("max_grad_norm", [1.0, None])
def test_dual_form_equals_materialised_weights(max_grad_norm):
    """Four chunks (three writes, two with surprise), padding, strong gates: the module's dual
    form gives the reads and every gradient of the rule with the weights built."""
    torch.manual_seed(0)
    memory = NeuralMemory(d_model=D, hidden=H, chunk=3, max_grad_norm=max_grad_norm).double()
    torch.nn.init.normal_(memory.gates.weight, std=1.0)  # gates far from their initial values
    inputs = [torch.randn(B, 11, D, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    logits = torch.randn(B, 11, 3, dtype=torch.float64, requires_grad=True)
    mask = torch.ones(B, 11, dtype=torch.float64)
    mask[0, 8:] = 0  # the first sequence ends early
    leaves = [*inputs, logits, memory.init_w1, memory.init_w2]
    results = []
    for fn in (memory.read_write, lambda *a: materialised_read_write(memory, *a)):
        out = fn(*inputs, logits, mask)
        grads = torch.autograd.grad((out * torch.linspace(-1, 1, D)).sum(), leaves)
        results.append((out, grads))
    (dual, dual_grads), (ref, ref_grads) = results
    torch.testing.assert_close(dual, ref)
    q = F.normalize(inputs[2], dim=-1)
    unwritten = F.linear(F.silu(F.linear(q, memory.init_w1)), memory.init_w2)
    assert not torch.allclose(dual[:, 3:], unwritten[:, 3:])  # the writes changed the reads
    for got, want in zip(dual_grads, ref_grads, strict=True):
        torch.testing.assert_close(got, want)
