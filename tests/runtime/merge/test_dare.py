"""DARE properties: p = 0 reduces to its combination, unbiased in expectation, seeded."""

from __future__ import annotations

import torch

from runtime.merge import MergeRequest, merge_models, resolved_settings
from runtime.merge.dare import dare
from tests.runtime.merge.tiny_models import state_equal


def _close(a, b):
    for k, v in a.state_dict().items():
        torch.testing.assert_close(b.state_dict()[k], v)


def test_no_drop_equals_task_arithmetic(llamas):
    settings = {"drop": 0.0, "combine": "linear", "lambda": 0.7}
    got = merge_models(MergeRequest("dare", settings, weights=(1, 2, 1), base="first"), llamas)
    want = merge_models(MergeRequest("task_arithmetic", {"lambda": 0.7}, weights=(1, 2, 1),
                                     base="first"), llamas)
    _close(got, want)


def test_no_drop_with_ties_combination_equals_ties_at_full_density(llamas):
    got = merge_models(MergeRequest("dare", {"drop": 0.0, "combine": "ties"}), llamas)
    want = merge_models(MergeRequest("ties", {"density": 1.0}), llamas)
    _close(got, want)


def test_deterministic_per_seed_and_seed_matters(llamas):
    req = MergeRequest("dare", {"drop": 0.5}, base="first", seed=11)
    assert state_equal(merge_models(req, llamas), merge_models(req, llamas))
    other = MergeRequest("dare", {"drop": 0.5}, base="first", seed=12)
    assert not state_equal(merge_models(req, llamas), merge_models(other, llamas))


def test_drop_rate_is_respected(llamas):
    req = MergeRequest("dare", {"drop": 0.9}, base="first", seed=0)
    merged = merge_models(req, llamas[:2])
    key = "model.layers.0.mlp.up_proj.weight"
    delta = merged.state_dict()[key] - llamas[0].state_dict()[key]
    kept = (delta != 0).float().mean().item()
    assert abs(kept - 0.1) < 0.02, kept  # 4096 entries: std of the kept fraction ~0.005


def test_unbiased_in_expectation():
    """Mean of tau_hat over many seeds -> tau, with the error the variance predicts."""
    gen = torch.Generator().manual_seed(0)
    base, tuned = torch.randn(2000, generator=gen), torch.randn(2000, generator=gen)
    tau, p, n = tuned - base, 0.5, 400
    total = torch.zeros_like(tau)
    for seed in range(n):
        req = MergeRequest("dare", {"drop": p}, base="first", seed=seed)
        total += dare(req, resolved_settings(req), "w", [base, tuned]) - base
    mean = total / n
    # Var(tau_hat_i) = tau_i^2 p / (1 - p): z-scores of the mean should be ~N(0, 1)
    z = (mean - tau) / (tau.abs() * (p / ((1 - p) * n)) ** 0.5)
    assert abs(z.mean().item()) < 0.15
    assert 0.85 < (z**2).mean().item() < 1.15
