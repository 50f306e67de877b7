"""Ternary layers that read one input, as one integer matmul (the Cognate model's fused reads).

The Cognate model concatenates the weights of the linears that share an input (attention
q/k/v with the memory's query/key/value/gates, SwiGLU's gate/up) and runs one matmul
(``runtime.nn.inputs.fused_weight``). For ``TernaryLinear`` layers that read would take
their dequantised float32 matrices, so the int8 kernel would never run there; a
``FusedTernary`` is what those reads get instead: the layers' codes stacked into one
matrix for the integer kernels (``int8`` or ``float_codes``, as the first layer's kernel
picks for the group's weights together), each output row scaled by its own layer's gamma,

    y_t[rows of layer l] = (gamma_l max|x_t| / Q) sum_k q_tk c_nk,

which is ``linear(quantised x, cat(gamma_l codes_l))`` within float32 rounding, biases
left out (as ``F.linear`` of the concatenated weights leaves them out). Where no integer
kernel would be exact (gradients recorded, off the CPU) it computes that dense reference
itself. One matmul over the stacked codes also saves the float model's concatenation of
the weights at every forward.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from runtime.formats import ternary_int8


class FusedTernary:
    """``group(x, rows)``: the first ``rows`` outputs (all when None) of one matmul over the
    stacked codes of ``layers`` (``TernaryLinear``, same input width, activation bits and
    kernel), with the kernel the first layer picks for their weights together."""

    def __init__(self, layers: Sequence):
        self.layers = tuple(layers)
        self.weights = sum(layer.in_features * layer.out_features for layer in self.layers)
        self._versions: tuple | None = None  # the layers' codes and scales the cache is of
        self._integer: dict[tuple, object] = {}  # (kernel, rows) -> stacked weights

    def refresh(self) -> None:
        """Forget the stacked weights if any layer's codes or scale changed since they
        were built. ``TernaryLinear.fuse_group`` calls it each time it hands the group out
        (once per model forward), not each call: checking seven layers costs about as much
        as a small matmul."""
        versions = tuple(layer._version() for layer in self.layers)
        if versions != self._versions:
            self._versions, self._integer = versions, {}

    def integer_weights(self, kernel: str, rows: int | None = None):
        """The stacked codes (their first ``rows``) laid out for ``kernel`` with per-row
        gammas (built on first use after a ``refresh`` that found changes)."""
        stacked = self._integer.get((kernel, rows))
        if stacked is None:
            codes = torch.cat([layer.unpacked_codes() for layer in self.layers])  # (out, in)
            scale = torch.cat([layer.scale.float().expand(layer.out_features)
                               for layer in self.layers])  # (out,)
            stacked = ternary_int8.make_weights(kernel, codes[:rows], scale[:rows],
                                                self.layers[0].activation_bits)
            self._integer[(kernel, rows)] = stacked
        return stacked

    def dense(self, x: torch.Tensor, rows: int | None = None) -> torch.Tensor:
        """The reference: the first layer's input quantiser, then the concatenated
        dequantised weights."""
        first = self.layers[0]
        if first.input_quantizer is not None:
            x = first.input_quantizer(x)
        weight = torch.cat([layer.weight for layer in self.layers])  # (out, in)
        return F.linear(x, (weight if rows is None else weight[:rows]).to(x.dtype))

    def __call__(self, x: torch.Tensor, rows: int | None = None) -> torch.Tensor:
        kernel = self.layers[0].integer_kernel(x, self.weights)
        if kernel is None:
            return self.dense(x, rows)
        return ternary_int8.integer_linear(kernel, x, self.integer_weights(kernel, rows), None)
