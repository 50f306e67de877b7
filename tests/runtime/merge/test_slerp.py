"""SLERP properties: endpoints, norm behaviour, lerp fallback, two models only."""

from __future__ import annotations

import math

import pytest
import torch

from runtime.merge import MergeRequest, merge_models
from runtime.merge.slerp import slerp_tensors


def test_endpoints_are_the_inputs(llamas):
    a, b = llamas[:2]
    at0 = merge_models(MergeRequest("slerp", {"t": 0.0}), [a, b])
    at1 = merge_models(MergeRequest("slerp", {"t": 1.0}), [a, b])
    for k in a.state_dict():
        torch.testing.assert_close(at0.state_dict()[k], a.state_dict()[k], rtol=0, atol=1e-6)
        torch.testing.assert_close(at1.state_dict()[k], b.state_dict()[k], rtol=0, atol=1e-6)


def test_midpoint_of_orthogonal_equal_norm_tensors_keeps_the_norm():
    v0 = torch.tensor([3.0, 0.0, 0.0])
    v1 = torch.tensor([0.0, 3.0, 0.0])
    mid = slerp_tensors(0.5, v0, v1)
    assert mid.norm().item() == pytest.approx(3.0, rel=1e-6)  # on the arc
    assert ((v0 + v1) / 2).norm().item() == pytest.approx(3.0 / math.sqrt(2), rel=1e-6)  # lerp: chord
    torch.testing.assert_close(mid, torch.tensor([1.0, 1.0, 0.0]) * 3 / math.sqrt(2))


def test_angle_is_interpolated_uniformly():
    v0, v1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    out = slerp_tensors(1 / 3, v0, v1)
    assert math.atan2(out[1].item(), out[0].item()) == pytest.approx(math.pi / 6, rel=1e-6)


def test_nearly_parallel_tensors_fall_back_to_lerp():
    v0 = torch.tensor([1.0, 2.0, 3.0])
    v1 = 2 * v0 + 1e-4
    torch.testing.assert_close(slerp_tensors(0.25, v0, v1), 0.75 * v0 + 0.25 * v1)


def test_zero_tensor_falls_back_to_lerp():
    v0, v1 = torch.zeros(4), torch.ones(4)
    torch.testing.assert_close(slerp_tensors(0.5, v0, v1), torch.full((4,), 0.5))


def test_needs_exactly_two_models(llamas):
    with pytest.raises(ValueError, match="exactly 2 models"):
        merge_models(MergeRequest("slerp"), llamas)
