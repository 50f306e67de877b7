"""Fused weight reads give their input to the layer's input quantiser, like a module call."""

from __future__ import annotations

import torch

from runtime.nn.blocks import SwiGLU
from runtime.nn.inputs import module_input
from tests.runtime.baking.tiny import cognate


def test_module_input_applies_the_layers_quantiser_when_it_has_one():
    linear = torch.nn.Linear(4, 2)
    x = torch.randn(3, 4)
    assert module_input(linear, x) is x
    linear.input_quantizer = lambda t: 2 * t
    assert torch.equal(module_input(linear, x), 2 * x)


def test_the_fused_gate_up_read_sees_the_quantised_input():
    torch.manual_seed(0)
    mlp = SwiGLU(8, 16)
    x = torch.randn(2, 5, 8)
    mlp.gate_proj.input_quantizer = torch.round  # a visible "quantiser"
    expected = mlp.down_proj(torch.nn.functional.silu(mlp.gate_proj(torch.round(x)))
                             * mlp.up_proj(torch.round(x)))
    assert torch.allclose(mlp(x), expected, atol=1e-6)


def test_the_fused_projection_read_sees_the_quantised_input():
    model = cognate()
    block = model.stack.layers[0]
    h = torch.randn(1, 12, 32)
    constants = block.constants(model.persistent)
    plain = block._input_projections(h, constants.projection)
    block.attn.q_proj.input_quantizer = lambda t: t * 0
    zeroed = block._input_projections(h, constants.projection)
    assert all(p is None or p.abs().sum() > 0 for p in plain)
    assert torch.equal(zeroed[0], torch.zeros_like(zeroed[0]))  # q | k | v of a zero input
