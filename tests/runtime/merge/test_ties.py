"""TIES properties: trim, sign election on a hand-made example, identities."""

from __future__ import annotations

import torch

from runtime.merge import MergeRequest, merge_models
from runtime.merge.ties import disjoint_merge, trim


def test_density_one_of_one_model_is_that_model(llamas):
    for base in ("mean", "first"):
        merged = merge_models(MergeRequest("ties", {"density": 1.0}, base=base), llamas[:1])
        for k, v in llamas[0].state_dict().items():
            assert torch.equal(merged.state_dict()[k], v)


def test_trim_keeps_the_top_magnitudes():
    tau = torch.tensor([0.1, -0.5, 0.3, -0.05, 0.9, 0.0, -0.2, 0.4, 0.01, -0.7])
    kept = trim(tau, 0.3)  # k = 3
    assert torch.equal(kept, torch.tensor([0, -0.5, 0, 0, 0.9, 0, 0, 0, 0, -0.7]))
    assert torch.equal(trim(tau, 1.0), tau)
    assert (trim(tau, 0.01) != 0).sum() == 1  # at least one entry survives


def test_sign_election_and_disjoint_mean_by_hand():
    taus = torch.tensor([[1.0, -2.0, 3.0, 0.0],
                         [2.0, 1.0, -1.0, 0.0],
                         [-4.0, 0.5, -1.0, 0.0]])
    # column sums -1, -0.5, 1, 0 -> elected signs -, -, +, + (0 counts as +)
    got = disjoint_merge(taus, [1.0, 1.0, 1.0])
    want = torch.tensor([-4.0, -2.0, 3.0, 0.0])  # only agreeing entries are averaged
    assert torch.equal(got, want)
    weighted = disjoint_merge(taus, [3.0, 1.0, 1.0])
    # column 0 weighted: 3*1 + 2 - 4 = 1 -> +, so (3*1 + 1*2) / (3 + 1)
    assert weighted[0].item() == 5.0 / 4.0


def test_ties_matches_its_formula_on_a_tensor(llamas):
    req = MergeRequest("ties", {"density": 0.5, "lambda": 0.8}, base="first")
    merged = merge_models(req, llamas)
    key = "model.layers.0.self_attn.q_proj.weight"
    thetas = [m.state_dict()[key] for m in llamas]
    base = thetas[0]
    taus = torch.stack([trim(t - base, 0.5) for t in thetas])
    torch.testing.assert_close(merged.state_dict()[key], base + 0.8 * disjoint_merge(taus, [1, 1, 1]))
    # trimming really happened: half of each task vector was zeroed
    assert (taus[1] == 0).float().mean().item() == 0.5
