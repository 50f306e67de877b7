"""The MAG block (memory as a gate) and the block stack ``f`` that TRM applies recursively."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from runtime.nn.attention import AttentionContext, SlidingWindowAttention
from runtime.nn.config import TrmTitansMagConfig
from runtime.nn.inputs import FusedWeight, fused_linear, fused_weight
from runtime.nn.memory import NeuralMemory
from runtime.nn.norm import RMSNorm


class SwiGLU(nn.Module):
    """``W_down (silu(W_gate x) * W_up x)`` without biases."""

    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.gate_proj = nn.Linear(d_model, d_ff, bias=False)
        self.up_proj = nn.Linear(d_model, d_ff, bias=False)
        self.down_proj = nn.Linear(d_ff, d_model, bias=False)

    def fused_weight(self) -> FusedWeight:
        """``[W_gate | W_up]`` (2 d_ff, d): both projections as one matmul
        (``runtime.nn.inputs.fused_weight``)."""
        return fused_weight((self.gate_proj, self.up_proj))

    def forward(self, x: torch.Tensor, fused: FusedWeight | None = None) -> torch.Tensor:
        """(B, T, d) -> (B, T, d); ``fused`` is :meth:`fused_weight` (built here when None)."""
        fused = self.fused_weight() if fused is None else fused
        gate, up = fused_linear(self.gate_proj, x, fused).chunk(2, dim=-1)  # 2 x (B, T, d_ff)
        return self.down_proj(F.silu(gate) * up)


@dataclass
class LayerConstants:
    """What a block derives from its weights alone, once per model forward.

    TRM applies every block several times per forward with the same weights; building
    these once saves the copies and, in backward, sums each weight's gradient before
    splitting it, instead of splitting it at every application.

    Attributes:
        projection: (6 d + 3, d) the fused input projection (see ``_input_projections``);
            its first ``4 d`` rows are what a single-chunk sequence needs.
        mlp: (2 d_ff, d) the SwiGLU's fused gate and up projection.
        persistent_kv: keys and values of the persistent tokens, (1, H, N_p, hd) each.
    """

    projection: FusedWeight
    mlp: FusedWeight
    persistent_kv: tuple[torch.Tensor, torch.Tensor]


class MagBlock(nn.Module):
    """Pre-norm residual block: sliding-window attention gated by the neural memory, then SwiGLU.

    ``o = norm_a(y_attn) * 2 sigmoid(W_g norm_m(y_mem))``; ``x <- x + o``; ``x <- x + mlp(norm(x))``.

    The gate is centred on 1 (our choice): at initialisation (``W_g`` ~ 0) the block is a
    plain attention residual, and the memory learns to damp (-> 0) or amplify (-> 2) each
    channel. A gate centred on 0.5 with a small ``norm_a`` gain (our first version) kept
    attention so weak that copy and recall were not learned at all in 150 steps (measured:
    0.0 held-out accuracy, against 0.15 with this gate and gain 1).
    """

    def __init__(self, config: TrmTitansMagConfig):
        super().__init__()
        d, eps = config.d_model, config.rms_eps
        self.attn_norm = RMSNorm(d, eps=eps)
        self.attn = SlidingWindowAttention(d, config.n_heads, config.window, config.rope_theta)
        self.memory = NeuralMemory(
            d, config.memory_hidden, config.memory_chunk, config.memory_max_grad_norm
        )
        self.mag_attn_norm = RMSNorm(d, eps=eps)
        self.mag_memory_norm = RMSNorm(d, eps=eps)
        self.mag_gate = nn.Linear(d, d, bias=False)
        self.mlp_norm = RMSNorm(d, eps=eps)
        self.mlp = SwiGLU(d, config.d_ff)

    def _projection_linears(self) -> tuple[nn.Linear, ...]:
        attn, mem = self.attn, self.memory
        # read-side projections first: a sequence of one memory chunk only needs these
        return (attn.q_proj, attn.k_proj, attn.v_proj, mem.query_proj, mem.key_proj,
                mem.value_proj, mem.gates)

    def constants(self, persistent: torch.Tensor) -> LayerConstants:
        """This block's :class:`LayerConstants` for the (N_p, d) persistent tokens."""
        projection = fused_weight(self._projection_linears())  # (6 d + 3, d)
        # persistent tokens go through the same norm so their keys share the sequence's scale
        kv = self.attn.persistent_kv(self.attn_norm(persistent))
        return LayerConstants(projection, self.mlp.fused_weight(), kv)

    def _input_projections(self, h: torch.Tensor, fused: FusedWeight) -> list[torch.Tensor | None]:
        """Attention [q | k | v], memory query, key, value and gate logits of ``h``, one matmul.

        Seven small matmuls over the same input cost far more per FLOP than one wide one;
        the weights stay separate parameters (their names are the checkpoint format). A
        sequence that fits one memory chunk never writes the memory (``NeuralMemory``), so
        its key, value and gates are not computed (None): a third fewer FLOPs here, forward
        and backward.
        """
        linears = self._projection_linears()
        sizes = [3 * self.attn.q_proj.out_features] + [m.out_features for m in linears[3:]]
        if not self.memory.writes(h.shape[1]):
            reads = sum(sizes[:2])
            projected = fused_linear(linears[0], h, fused, reads)  # (B, T, 4 d)
            return [*projected.split(sizes[:2], dim=-1), None, None, None]
        out = list(fused_linear(linears[0], h, fused).split(sizes, dim=-1))
        out[-1] = out[-1] + self.memory.gates.bias
        return out

    def forward(
        self,
        x: torch.Tensor,
        persistent: torch.Tensor,
        positions: torch.Tensor,
        token_mask: torch.Tensor | None = None,
        context: AttentionContext | None = None,
        constants: LayerConstants | None = None,
    ) -> torch.Tensor:
        """Args: x (B, T, d), persistent (N_p, d), positions (T,) or (B, T), token_mask (B, T),
        context: the attention context of ``positions``, constants: :meth:`constants` of
        ``persistent`` (both built here when None)."""
        if context is None:
            context = self.attn.context(positions, persistent.shape[0], token_mask, x.dtype)
        if constants is None:
            constants = self.constants(persistent)
        h = self.attn_norm(x)  # (B, T, d)
        qkv, mem_q, mem_k, mem_v, gate_logits = self._input_projections(h, constants.projection)
        y_attn = self.attn.attend(qkv, constants.persistent_kv, context)  # (B, T, d)
        y_mem = self.memory.read_write(mem_k, mem_v, mem_q, gate_logits, token_mask)  # (B, T, d)
        gate = 2.0 * torch.sigmoid(self.mag_gate(self.mag_memory_norm(y_mem)))  # (B, T, d) in (0, 2)
        x = x + self.mag_attn_norm(y_attn) * gate
        return x + self.mlp(self.mlp_norm(x), constants.mlp)


@dataclass
class StackConstants:
    """What every application of the stack shares within one model forward."""

    context: AttentionContext
    layers: list[LayerConstants]


class BlockStack(nn.Module):
    """The tiny network ``f`` of TRM: ``n_layers`` MAG blocks sharing the persistent tokens."""

    def __init__(self, config: TrmTitansMagConfig):
        super().__init__()
        self.layers = nn.ModuleList(MagBlock(config) for _ in range(config.n_layers))

    def forward(
        self,
        x: torch.Tensor,
        persistent: torch.Tensor,
        positions: torch.Tensor,
        token_mask: torch.Tensor | None = None,
        constants: StackConstants | None = None,
    ) -> torch.Tensor:
        """(B, T, d) -> (B, T, d); ``constants`` from :meth:`constants` (built here when None)."""
        if constants is None:
            constants = self.constants(persistent, positions, token_mask, x.dtype)
        for layer, layer_constants in zip(self.layers, constants.layers, strict=True):
            x = layer(x, persistent, positions, token_mask, constants.context, layer_constants)
        return x

    def constants(self, persistent: torch.Tensor, positions: torch.Tensor,
                  token_mask: torch.Tensor | None, dtype: torch.dtype) -> StackConstants:
        """The attention context and every layer's constants: build once per model forward,
        pass to each application of the stack (TRM applies it several times)."""
        context = self.layers[0].attn.context(positions, persistent.shape[0], token_mask, dtype)
        return StackConstants(context, [layer.constants(persistent) for layer in self.layers])
