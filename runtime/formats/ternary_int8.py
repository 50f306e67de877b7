"""Ternary layers as integer dot products on the CPU: ``int8`` and ``float_codes``.

A ``TernaryLinear`` whose input is quantised per token to ``b`` bits computes
``y = (gamma / s_t) * sum_k q_tk c_nk`` with integer ``q_tk = round(x_tk s_t)`` in
[-(2^(b-1) - 1), 2^(b-1) - 1], ``s_t = Q / max|x_t|`` and codes ``c_nk`` in {-1, 0, 1}:
an integer dot product ``S_tn``, then a scale. Two kernels compute it, with the same
result to the bit (tested):

- ``int8`` (b <= 8): ``torch.ops.quantized.linear_with_input_q_dq_qweight_dq_output_fp32``
  (fbgemm/x86) quantises a float input with a scale and zero point we give it, multiplies
  the uint8 values by int8 weights with int32 accumulation and returns floats. We give it
  the integers ``q`` themselves (as floats), scale 1 and zero point 128: its uint8 values
  are ``q + 128`` exactly, its sums (the zero point taken back out, in integers) are
  ``S`` exactly, and the codes carry the weight scale ``g = gamma / Q`` (one per output
  row: fused groups of layers each keep their own gamma, ``runtime.formats.ternary_fused``),
  so the op returns ``S g``. The codes take 1 byte a weight in memory (fbgemm's packed
  int8), not 4, but each call has a fixed cost (about 20 us here) that a small matmul
  does not win back.
- ``float_codes``: ``linear(q, codes)`` with the codes as a float32 matrix. Every product
  and partial sum is an integer below 2^24 (``Q * in_features < 2^24``), so float32 holds
  each exactly whatever the summation order: ``S`` exactly, then ``* g``. A plain float32
  matmul, so as fast as the fp32 model's on small matrices; 4 bytes a weight.

Both finish with one multiply by ``max|x_t|``, so each differs from the dequantised
reference ``linear(q / s, gamma c)`` (the ``dense`` kernel) only by float32 rounding
(tested: below 1e-5 of the output's largest magnitude). Activations of one input tensor
are quantised once for every layer that reads it.

An earlier ``int8`` fed ``torch.ops.quantized.linear_dynamic`` shifted activations plus a
constant column (so its own scale came out as 1): one more column than the layer's width,
which measured up to 2x slower on 1536-wide inputs, and two more elementwise ops a layer.
"""

from __future__ import annotations

import functools
import warnings
import weakref

import torch
import torch.nn.functional as F

from runtime.bitnet.quantizers import ACTIVATION_EPS

ZERO_POINT = 128  # the uint8 zero point: q in [-127, 127] -> q + 128 in [1, 255]
MAX_EXACT = 2**24  # float32 holds every integer below this exactly


@functools.cache
def _op():
    """The quantized linear's C++ entry point. Calling it through ``torch.ops`` runs a
    Python check of every argument for fake script objects (for export and compile) at each
    call, about as long as a small matmul; the packet's ``_op`` is the same operator
    without it (the packet where a PyTorch lacks that attribute)."""
    packet = torch.ops.quantized.linear_with_input_q_dq_qweight_dq_output_fp32
    return getattr(packet, "_op", packet)


@functools.cache
def available() -> bool:
    """Whether this PyTorch runs the int8 kernel exactly: the quantized CPU linear (fbgemm or
    x86 engine; deprecated in PyTorch, so tried once on a small layer, not assumed)."""
    engines = getattr(torch.backends.quantized, "supported_engines", [])
    if not hasattr(torch.ops.quantized, "linear_with_input_q_dq_qweight_dq_output_fp32") or not (
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


def exact(in_features: int, bits: int | None, device: torch.device) -> bool:
    """Whether ``float_codes`` computes this layer exactly: CPU, quantised inputs whose
    integer sums stay below 2^24."""
    return (bits is not None and device.type == "cpu"
            and (2 ** (bits - 1) - 1) * in_features < MAX_EXACT)


def fits(in_features: int, bits: int | None, device: torch.device) -> bool:
    """Whether ``int8`` computes this layer exactly: as ``exact``, inputs quantised to at
    most 8 bits (they fit uint8 with zero point 128), the quantized linear available."""
    return (exact(in_features, bits, device) and bits <= 8 and available())


def row_scales(scale: torch.Tensor, out_features: int, bits: int) -> torch.Tensor:
    """``g = gamma / Q`` per output row, (out,) float64: computed in float64 and rounded
    once to float32 where used, by both kernels alike."""
    return scale.double().expand(out_features) / (2 ** (bits - 1) - 1)


class Int8Weights:
    """One layer's (or one fused group's) codes prepacked for the quantized linear, each
    output row carrying its weight scale ``gamma / Q``."""

    def __init__(self, codes: torch.Tensor, scale: torch.Tensor, bits: int):
        """``codes``: int8 (out, in) in {-1, 0, 1}; ``scale``: gamma, one (0-d) or one per
        output row (out,); ``bits``: the input's."""
        out_features = codes.shape[0]
        scales = row_scales(scale, out_features, bits).contiguous()  # (out,)
        with warnings.catch_warnings():  # quantized tensor creation warns of its deprecation
            warnings.simplefilter("ignore")
            quantized = torch._make_per_channel_quantized_tensor(
                codes.contiguous(), scales, torch.zeros(out_features, dtype=torch.long), 0)
            self.packed = torch.ops.quantized.linear_prepack(quantized, None)
        self.in_features, self.bits = codes.shape[1], bits


class FloatCodes:
    """One layer's (or one fused group's) codes as a float32 matrix, and ``g`` per row."""

    def __init__(self, codes: torch.Tensor, scale: torch.Tensor, bits: int):
        """As ``Int8Weights``."""
        self.matrix = codes.float().contiguous()  # (out, in), values in {-1, 0, 1}
        self.scales = row_scales(scale, codes.shape[0], bits).float()  # (out,)
        self.in_features, self.bits = codes.shape[1], bits


class _LastInput:
    """The integer activations of the last input seen, reused while the same tensor object
    (unchanged) comes again: Llama's q/k/v and gate/up projections read one input each; a
    dead weak reference never matches."""

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


def integer_activations(x: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(q`` as float32, flattened to (T, in); ``max|x_t|`` (T, 1)): ``q = round(x_t Q /
    max|x_t|)``, the integers ``quantize_activations`` computes (the same float ops)."""
    cached = _LAST.get(x, bits)
    if cached is not None:
        return cached
    flat = x.reshape(-1, x.shape[-1])  # (T, in)
    if flat.dtype != torch.float32:
        flat = flat.float()
    # abs().amax() as quantize_activations: measured 2-3x faster than
    # linalg.vector_norm(ord=inf) at (32, 128), same values
    amax = flat.abs().amax(dim=-1, keepdim=True).clamp_(min=ACTIVATION_EPS)  # (T, 1)
    # Q / amax as quantize_activations computes it (Tensor.__rdiv__: the reciprocal, then
    # times Q); |x Q / max| <= Q: no clamp needed
    q = flat.mul(amax.reciprocal().mul_(2 ** (bits - 1) - 1)).round_()
    _LAST.put(x, bits, (q, amax))
    return q, amax


def _finish(x: torch.Tensor, scaled_sums: torch.Tensor, amax: torch.Tensor,
            bias: torch.Tensor | None) -> torch.Tensor:
    """``S g max|x_t| (+ bias)`` in ``x``'s shape (but the last dimension) and dtype."""
    out = scaled_sums.mul_(amax)  # (T, out)
    if bias is not None:
        out = out.add_(bias)
    out = out.view(*x.shape[:-1], -1)
    return out if out.dtype == x.dtype else out.to(x.dtype)


def int8_linear(x: torch.Tensor, weights: Int8Weights, bias: torch.Tensor | None) -> torch.Tensor:
    """``linear(quantize_activations(x, bits), gamma * codes, bias)`` as an int8 matmul."""
    q, amax = integer_activations(x, weights.bits)
    return _finish(x, _op()(q, 1.0, ZERO_POINT, weights.packed), amax, bias)  # S g


def float_codes_linear(x: torch.Tensor, weights: FloatCodes,
                       bias: torch.Tensor | None) -> torch.Tensor:
    """The same as ``int8_linear``, to the bit, as a float32 matmul of exact integer sums."""
    q, amax = integer_activations(x, weights.bits)
    return _finish(x, F.linear(q, weights.matrix).mul_(weights.scales), amax, bias)  # S g


def integer_linear(kernel: str, x: torch.Tensor, weights: Int8Weights | FloatCodes,
                   bias: torch.Tensor | None) -> torch.Tensor:
    """``int8_linear`` or ``float_codes_linear``, as ``kernel`` names."""
    compute = int8_linear if kernel == "int8" else float_codes_linear
    return compute(x, weights, bias)


def make_weights(kernel: str, codes: torch.Tensor, scale: torch.Tensor,
                 bits: int) -> Int8Weights | FloatCodes:
    """The codes laid out for ``kernel`` (``int8`` or ``float_codes``)."""
    return (Int8Weights if kernel == "int8" else FloatCodes)(codes, scale, bits)
