"""Ternary layers as int8 matmuls on the CPU (PyTorch's fbgemm/x86 quantized linear).

A ``TernaryLinear`` whose input is quantised per token to ``b <= 8`` bits computes
``y = (gamma / s_t) * sum_k q_tk c_nk`` with integer ``q_tk = round(x_tk s_t)`` in
[-(2^(b-1) - 1), 2^(b-1) - 1] and codes ``c_nk`` in {-1, 0, 1}: an integer dot product.
``torch.ops.quantized.linear_dynamic`` multiplies uint8 activations by int8 weights with
int32 accumulation; it picks the activations' scale from their range, so we feed it
``u = q + 128`` in [1, 255] with one extra column fixed at 255 (its weight column is 0):
its scale is then exactly 1 and zero point 0, the uint8 values are ``u`` exactly, and the
float it returns is the integer sum (exact below 2^24). Its float bias ``-128 sum_k c_nk``
makes that ``sum_k q_tk c_nk`` exactly; one multiply by ``gamma max|x_t| / Q`` (= gamma /
s_t) finishes. So the result differs from the dequantised reference ``linear(q / s, gamma
c)`` only by float32 rounding (tested: below 1e-5 of the output's largest magnitude).
Activations of one input tensor are quantised once for every layer that reads it.

Weights take 1 byte each in memory (fbgemm's packed int8), not 4.
"""

from __future__ import annotations

import functools
import warnings
import weakref

import torch

ZERO_POINT = 128
MAX_EXACT = 2**24  # float32 holds every integer below this exactly


@functools.cache
def available() -> bool:
    """Whether this PyTorch runs the int8 kernel exactly: the quantized CPU linear (fbgemm or
    x86 engine; deprecated in PyTorch, so tried once on a small layer, not assumed)."""
    engines = getattr(torch.backends.quantized, "supported_engines", [])
    if not hasattr(torch.ops.quantized, "linear_dynamic") or not (
            "fbgemm" in engines or "x86" in engines):
        return False
    try:
        codes = torch.tensor([[1, 0, -1], [-1, 1, 1]], dtype=torch.int8)
        x = torch.tensor([[3.0, -1.0, 2.0]])
        got = int8_linear(x, Int8Weights(codes, torch.tensor(1.0), 8), None)
    except (RuntimeError, AttributeError, NotImplementedError):
        return False
    expected = torch.round(x * (127 / 3.0)) @ codes.float().t() * (3.0 / 127)
    return bool(torch.allclose(got, expected, rtol=1e-6, atol=1e-6))


def fits(in_features: int, bits: int | None, device: torch.device) -> bool:
    """Whether the int8 path computes this layer exactly: CPU, inputs quantised to at most
    8 bits, sums that stay below 2^24."""
    return (bits is not None and bits <= 8 and device.type == "cpu"
            and 255 * (in_features + 1) < MAX_EXACT and available())


class Int8Weights:
    """One layer's codes prepacked for ``linear_dynamic`` (with ``-128 sum_k c_nk`` as its
    float bias, so the op returns the integer sums), and ``gamma / Q``."""

    def __init__(self, codes: torch.Tensor, scale: torch.Tensor, bits: int):
        """``codes``: int8 (out, in) in {-1, 0, 1}; ``scale``: gamma; ``bits``: the input's."""
        out_features = codes.shape[0]
        padded = torch.cat([codes, codes.new_zeros(out_features, 1)], dim=1).contiguous()
        offset = -ZERO_POINT * codes.sum(dim=1, dtype=torch.int32).float()  # (out,)
        with warnings.catch_warnings():  # quantized tensor creation warns of its deprecation
            warnings.simplefilter("ignore")
            quantized = torch._make_per_tensor_quantized_tensor(padded, 1.0, 0)
            self.packed = torch.ops.quantized.linear_prepack(quantized, offset)
        self.in_features, self.bits = codes.shape[1], bits
        self.gamma_over_q = scale.float() / (2 ** (bits - 1) - 1)


class _LastInput:
    """The shifted integer activations of the last input seen, reused while the same
    tensor object (unchanged) comes again: Llama's q/k/v and gate/up projections read one
    input each; a dead weak reference never matches."""

    def __init__(self):
        self.entry = None  # (weak reference, version, bits, value): one attribute, swapped whole

    def get(self, x: torch.Tensor, bits: int):
        entry = self.entry
        if (entry is not None and not x.is_inference() and entry[0]() is x
                and entry[1:3] == (x._version, bits)):
            return entry[3]
        return None

    def put(self, x: torch.Tensor, bits: int, value) -> None:
        # an inference-mode tensor has no version counter: an in-place change would go
        # unseen, so it is never reused
        self.entry = None if x.is_inference() else (weakref.ref(x), x._version, bits, value)


_LAST = _LastInput()


def shifted_activations(x: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(q + 128`` with a last column of 255, flattened to (T, in + 1); ``max|x_t|`` (T, 1)):
    ``q = round(x_t Q / max|x_t|)``, as ``quantize_activations``."""
    from runtime.bitnet.quantizers import ACTIVATION_EPS

    cached = _LAST.get(x, bits)
    if cached is not None:
        return cached
    q = 2 ** (bits - 1) - 1
    flat = x.reshape(-1, x.shape[-1]).float()  # (T, in)
    amax = torch.linalg.vector_norm(flat, float("inf"), dim=-1, keepdim=True)
    amax = amax.clamp_(min=ACTIVATION_EPS)  # (T, 1)
    body = torch.round(flat * (q / amax)).add_(ZERO_POINT)  # |x Q / max| <= Q: [128 - Q, 128 + Q]
    shifted = torch.nn.functional.pad(body, (0, 1), value=255.0)  # (T, in + 1)
    _LAST.put(x, bits, (shifted, amax))
    return shifted, amax


def int8_linear(x: torch.Tensor, weights: Int8Weights, bias: torch.Tensor | None) -> torch.Tensor:
    """``linear(quantize_activations(x, bits), gamma * codes, bias)`` as an int8 matmul."""
    shifted, amax = shifted_activations(x, weights.bits)
    sums = torch.ops.quantized.linear_dynamic(shifted, weights.packed, False)  # (T, out)
    out = sums.mul_(amax * weights.gamma_over_q)
    if bias is not None:
        out = out.add_(bias)
    return out.view(*x.shape[:-1], -1).to(x.dtype)
