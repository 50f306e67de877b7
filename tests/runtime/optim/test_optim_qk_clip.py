"""QK-Clip properties: recomputed max logit <= τ after clipping; other heads bit-identical."""

import math

import pytest
import torch
from optim_attention_helper import TinyAttention

from runtime.optim.qk_clip import QKClip, QKClipTarget, max_logit_per_head

TAU = 5.0


def _attention_with_hot_heads(hot=(1, 3), bias=False, seed=0):
    torch.manual_seed(seed)
    attn = TinyAttention(bias=bias)
    with torch.no_grad():
        for h in hot:
            rows = slice(h * attn.head_dim, (h + 1) * attn.head_dim)
            attn.q.weight[rows] *= 8.0
            attn.k.weight[rows] *= 8.0
    x = torch.randn(2, 6, 16)
    return attn, x


@pytest.mark.parametrize("bias", [False, True])
def test_clipped_heads_land_at_tau_and_others_are_untouched(bias):
    attn, x = _attention_with_hot_heads(bias=bias)
    attn(x)
    before = attn.last_max_logits.clone()
    assert (before[[1, 3]] > TAU).all() and (before[[0, 2]] <= TAU).all()
    q0, k0 = attn.q.weight.detach().clone(), attn.k.weight.detach().clone()
    gammas = QKClip(TAU).apply(attn.qk_clip_targets())
    attn(x)  # recompute on the same batch
    after = attn.last_max_logits
    assert (after <= TAU * (1 + 1e-5)).all(), after
    torch.testing.assert_close(after[[1, 3]], torch.full((2,), TAU), rtol=1e-5, atol=0)
    for h in (0, 2):
        rows = slice(h * 4, (h + 1) * 4)
        assert torch.equal(attn.q.weight[rows], q0[rows])
        assert torch.equal(attn.k.weight[rows], k0[rows])
        assert after[h] == before[h]
    torch.testing.assert_close(gammas[0][[1, 3]], TAU / before[[1, 3]])
    assert (gammas[0][[0, 2]] == 1.0).all()


def test_nothing_changes_below_tau():
    attn, x = _attention_with_hot_heads(hot=())
    attn(x)
    state = {k: v.clone() for k, v in attn.state_dict().items()}
    QKClip(1e6).apply(attn.qk_clip_targets())
    assert all(torch.equal(state[k], v) for k, v in attn.state_dict().items())


def test_views_into_a_fused_qkv_weight_are_clipped_in_place():
    torch.manual_seed(1)
    qkv = torch.randn(3 * 8, 8)  # (3·H·hd, d) with H = 2, hd = 4
    q_w, k_w = qkv[:8], qkv[8:16]
    logits = torch.tensor([2.0 * TAU, 0.5 * TAU])
    QKClip(TAU).apply([QKClipTarget(q_w, k_w, 2, 4, lambda: logits)])
    torch.manual_seed(1)
    original = torch.randn(3 * 8, 8)
    torch.testing.assert_close(qkv[:4], original[:4] * math.sqrt(0.5))
    torch.testing.assert_close(qkv[8:12], original[8:12] * math.sqrt(0.5))
    assert torch.equal(qkv[4:8], original[4:8]) and torch.equal(qkv[16:], original[16:])


def test_grouped_keys_put_the_whole_scale_on_queries():
    q_w, k_w = torch.ones(8, 4), torch.ones(4, 4)  # 2 query heads share 1 key head
    QKClip(TAU).apply([QKClipTarget(q_w, k_w, 2, 4, lambda: torch.tensor([4 * TAU, 0.0]),
                                    n_kv_heads=1)])
    assert torch.allclose(q_w[:4], torch.full((4, 4), 0.25))
    assert torch.equal(q_w[4:], torch.ones(4, 4))
    assert torch.equal(k_w, torch.ones(4, 4))


def test_max_logit_per_head_respects_the_mask():
    q = torch.zeros(1, 1, 2, 4)
    k = torch.zeros(1, 1, 2, 4)
    q[..., 0, 0], k[..., 1, 0] = 10.0, 10.0  # only the masked (0 -> 1) pair is large
    causal = torch.ones(2, 2, dtype=torch.bool).tril()
    assert max_logit_per_head(q, k, causal).item() == 0.0
    assert max_logit_per_head(q, k).item() == pytest.approx(100.0 / 2.0)


def test_wrong_head_count_and_bad_tau_are_errors():
    with pytest.raises(ValueError, match="heads"):
        QKClip(TAU).apply([QKClipTarget(torch.ones(8, 4), torch.ones(8, 4), 2, 4,
                                        lambda: torch.ones(3))])
    with pytest.raises(ValueError):
        QKClip(0.0)
