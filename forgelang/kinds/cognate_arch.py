"""The Cognate architecture (TRM x Titans-MAG): its hyper-parameters and exact size.

``count_parameters`` is a contract with ``runtime.nn``: the torch model built from the
same values has exactly this many parameters (the only formula for it; checked against
built models by tests/runtime/nn/test_cognate_param_count.py). No biases anywhere except
the memory gates (eta, theta, alpha) and the halting head.

Field defaults equal ``runtime.nn.config.TrmTitansMagConfig``'s (the full size). Size
presets (``architecture = smoke | tiny | full`` in a recipe), the same as
``runtime/nn/presets.py``:

- ``smoke``: character vocab 108 (no merges), d 32, 2 layers, n 1, T 1 -> 49,223 parameters
  (tests). With the byte-level BPE of vocab 384 it had before, ``copy: msx`` encoded its
  string as ``Gm s x`` and the answer as ``m s x``, and ``zld`` as ``z ld``: the 51k-parameter
  memory specialist never learned copy or recall (held-out 0.0-0.05 after 250-500 steps);
  with one token per character it learned copy to 0.78-1.0 in 500 (docs/cognate.md).
- ``tiny``:  vocab 512, d 128, 3 layers, n 1, T 1 -> 1,003,146 parameters (README's first run)

smoke and tiny keep one latent and one answer update per forward and one supervision step:
with the recursion on (n 2, T 2, 2 supervision steps) the tiny model learned nothing in 150
CPU steps (copy + recall, held-out accuracy 0.0), with it cut 0.15 (docs/architecture.md).
- ``full``:  vocab 8192, d 512, 4 layers, d_ff 1536, memory_hidden 512, n 6, T 3 ->
  24,137,741 parameters, 3.5% under the design's 25M target
"""

from typing import Literal

from pydantic import Field, model_validator

from forgelang.kinds.base import Params


class TrmTitansMagArch(Params):
    """TRM recursion (arXiv:2510.04871) over a Titans-MAG block stack (arXiv:2501.00663)."""

    type: Literal["trm_titans_mag"] = "trm_titans_mag"
    vocab_size: int = Field(8192, ge=16, le=1_000_000, description="token ids in the vocabulary")
    d_model: int = Field(512, ge=8, le=16_384, description="width of the residual stream")
    n_layers: int = Field(4, ge=1, le=128, description="blocks in the stack f that TRM recurses")
    n_heads: int = Field(8, ge=1, le=256, description="attention heads (d_model / n_heads even)")
    d_ff: int = Field(1536, ge=1, le=65_536, description="hidden width of the SwiGLU MLP")
    window: int = Field(128, ge=1, le=1_000_000,
                        description="sliding attention window, tokens (query included)")
    n_persistent: int = Field(8, ge=0, le=1024, description="persistent memory tokens N_p")
    memory_hidden: int = Field(512, ge=1, le=65_536,
                               description="hidden width of the Titans memory MLP d -> h -> d")
    memory_chunk: int = Field(16, ge=1, le=65_536, description="tokens per memory write")
    n_latent_steps: int = Field(6, ge=1, le=64, description="TRM n: z <- f(x + y + z) per cycle")
    n_cycles: int = Field(3, ge=1, le=64,
                          description="TRM T: cycles per supervision step; the last one back-propagated")
    supervision_steps: int = Field(4, ge=1, le=16,
                                   description="deep-supervision steps with (y, z) carried, detached")
    max_seq_len: int = Field(512, ge=8, le=1_000_000, description="longest sequence, tokens")
    tie_embeddings: bool = Field(True, description="share the LM head with the token embedding")

    @model_validator(mode="after")
    def _heads_divide_width(self):
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ValueError(f"d_model ({self.d_model}) / n_heads ({self.n_heads}) must be "
                             "a whole, even head size (RoPE)")
        return self


ARCH_PRESETS: dict[str, dict] = {
    # runtime/nn/presets.py builds its configs from these; smoke/tiny cut the recursion
    "smoke": {"vocab_size": 108, "d_model": 32, "n_layers": 2, "n_heads": 2, "d_ff": 128,
              "window": 32, "n_persistent": 4, "memory_hidden": 32, "memory_chunk": 32,
              "n_latent_steps": 1, "n_cycles": 1, "supervision_steps": 1, "max_seq_len": 128},
    "tiny": {"vocab_size": 512, "d_model": 128, "n_layers": 3, "n_heads": 4, "d_ff": 384,
             "window": 64, "n_persistent": 4, "memory_hidden": 128, "memory_chunk": 32,
             "n_latent_steps": 1, "n_cycles": 1, "supervision_steps": 1, "max_seq_len": 256},
    "full": {},  # the model's defaults: the design's size with the TRM paper's n = 6, T = 3
}


def arch_from(value) -> TrmTitansMagArch:
    """A preset name, a dict (``type`` optional; ``extends`` a preset name whose fields it
    overrides) or a model -> validated architecture."""
    if isinstance(value, TrmTitansMagArch):
        return value
    if isinstance(value, str):
        return TrmTitansMagArch(**_arch_preset(value))
    if isinstance(value, dict) and "extends" in value:
        rest = {k: v for k, v in value.items() if k != "extends"}
        return TrmTitansMagArch.model_validate({**_arch_preset(value["extends"]), **rest})
    return TrmTitansMagArch.model_validate(value)


def _arch_preset(name) -> dict:
    if name not in ARCH_PRESETS:
        raise ValueError(f"unknown architecture preset {name!r}; expected one of: "
                         + ", ".join(ARCH_PRESETS))
    return dict(ARCH_PRESETS[name])


def layer_parameters(arch) -> int:
    """Parameters of one Titans-MAG block."""
    a = arch_from(arch)
    d = a.d_model
    norms = 4 * d  # RMSNorm gains: attn, mlp, mag-attn, mag-mem
    attention = 4 * d * d  # q, k, v, o
    memory = 3 * d * d + 2 * d * a.memory_hidden + (3 * d + 3)  # k,v,q proj; MLP; gates+bias
    gate = d * d  # MAG gate projection
    mlp = 3 * d * a.d_ff  # SwiGLU: gate, up, down
    return norms + attention + memory + gate + mlp


def count_parameters(arch) -> int:
    """Exact parameter count of the Cognate model for ``arch`` (dict, preset name or model)."""
    a = arch_from(arch)
    d, v = a.d_model, a.vocab_size
    top = v * d + a.n_persistent * d + 2 * d + d + (d + 1)  # embed, N_p, y/z init, norm, halt
    head = 0 if a.tie_embeddings else v * d
    return top + head + a.n_layers * layer_parameters(a)


def matrix_parameters(arch) -> int:
    """Parameters in 2-D hidden matrices (Muon's share; BitNet's ternary share).

    Attention q,k,v,o, memory k,v,q projections, memory MLP, MAG gate and SwiGLU. The
    memory gates (3 outputs, with bias), embeddings, head and norms are excluded.
    """
    a = arch_from(arch)
    d = a.d_model
    per_layer = 8 * d * d + 2 * d * a.memory_hidden + 3 * d * a.d_ff
    return a.n_layers * per_layer


def matrix_count(arch) -> int:
    """How many 2-D hidden matrices the model has (each gets its own quantiser scale)."""
    return arch_from(arch).n_layers * 13  # 4 attn + 3 mem proj + 2 mem MLP + 1 gate + 3 MLP


def memory_mlp_parameters(arch) -> int:
    """Parameters of the Titans memory MLPs, all layers (written at test time)."""
    a = arch_from(arch)
    return a.n_layers * 2 * a.d_model * a.memory_hidden
