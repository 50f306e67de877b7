"""MuGrokfast optimiser settings (Muon + Grokfast + QK-Clip), shared by the training kinds.

Defaults follow the papers (see REFERENCES.md): Muon momentum 0.95 with Nesterov and
5 Newton-Schulz steps; Grokfast EMA alpha 0.98, lambda 2.0; QK-Clip tau 30 (the design's
choice; Kimi K2 uses 100). The phase presets are the design's:

- ``mugrokfast_pretrain`` (phase 1): muon_lr 1e-3, grokfast_lambda 0.3
- ``mugrokfast_rl`` (phase 3): muon_lr 5e-4, kl_coefficient 0.1, adam_lr 1e-6 (the
  Quiet-STaR paper's learning rate, for the parameters AdamW owns)
- ``mugrokfast_ste`` (ternary phases): ste_mode on, grokfast_lambda 2.0

A recipe gives ``optimizer = { ... }`` (or a preset of its own, which the compiler
resolves to a dict) or names a built-in preset: ``optimizer = mugrokfast_rl``.
"""

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from forgelang.diagnostics import did_you_mean
from forgelang.kinds.base import Params


class MuGrokfast(Params):
    """Muon for 2-D hidden matrices, AdamW for the rest, Grokfast filter, QK-Clip."""

    muon_lr: float = Field(0.02, gt=0, le=1.0,
                           description="Muon learning rate for 2-D hidden matrices (Muon reference 0.02)")
    adam_lr: float = Field(3e-4, gt=0, le=1.0,
                           description="AdamW learning rate (betas 0.9/0.95) for embeddings, head, "
                                       "norms and biases (our choice)")
    muon_scale: Literal["jordan", "moonlight"] = Field(
        "jordan", description="Muon update scale: `jordan` sqrt(max(1, rows/cols)) (reference lr "
                              "0.02) or `moonlight` 0.2*sqrt(max(rows, cols)), which matches AdamW's "
                              "update RMS so AdamW-sized lrs such as 1e-3 apply")
    momentum: float = Field(0.95, ge=0, lt=1, description="Muon momentum beta")
    nesterov: bool = Field(True, description="Nesterov momentum for Muon")
    ns_steps: int = Field(5, ge=1, le=20, description="Newton-Schulz orthogonalisation steps")
    ns_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="Newton-Schulz precision: `auto` is bfloat16 (the Muon reference's) "
                            "where the device multiplies bf16 natively, else float32")
    grokfast_alpha: float = Field(0.98, ge=0, lt=1,
                                  description="Grokfast EMA decay alpha of the gradient filter")
    grokfast_lambda: float = Field(2.0, ge=0, le=100,
                                   description="Grokfast amplification lambda: the optimiser sees g + lambda*EMA(g)")
    qk_clip_tau: float = Field(30.0, gt=0, le=1e4,
                               description="QK-Clip threshold on the max pre-softmax logit per head")
    weight_decay: float = Field(0.01, ge=0, le=1,
                                description="decoupled weight decay, both parameter groups (our choice)")
    ste_mode: bool = Field(False,
                           description="train latent full-precision weights of a ternary model "
                                       "through the straight-through estimator")
    kl_coefficient: float = Field(0.0, ge=0, le=100,
                                  description="weight of the KL penalty to the phase's input model")


OPTIMIZER_PRESETS: dict[str, dict] = {
    "mugrokfast": {},
    # the design's lrs (1e-3, 5e-4) are AdamW-sized: the moonlight scale makes them so for Muon
    "mugrokfast_pretrain": {"muon_lr": 1e-3, "muon_scale": "moonlight", "grokfast_lambda": 0.3},
    "mugrokfast_rl": {"muon_lr": 5e-4, "muon_scale": "moonlight", "adam_lr": 1e-6,
                      "kl_coefficient": 0.1},
    "mugrokfast_ste": {"ste_mode": True, "grokfast_lambda": 2.0},
}


def _preset_by_name(value):
    """A bare name selects a built-in preset; a dict with ``extends`` overrides some of a
    built-in preset's fields; other dicts pass through to field validation."""
    if isinstance(value, str):
        return _builtin(value)
    if isinstance(value, dict) and "extends" in value:
        return {**_builtin(value["extends"]),
                **{k: v for k, v in value.items() if k != "extends"}}
    return value


def _builtin(name) -> dict:
    if name not in OPTIMIZER_PRESETS:
        hint = did_you_mean(str(name), OPTIMIZER_PRESETS) or ""
        raise ValueError(f"unknown optimizer preset {name!r}; {hint}".rstrip("; "))
    return dict(OPTIMIZER_PRESETS[name])


OptimizerSpec = Annotated[MuGrokfast, BeforeValidator(_preset_by_name)]


def optimizer_field(preset: str, description: str = "MuGrokfast settings"):
    """A pydantic Field whose default is the named built-in preset."""
    return Field(default_factory=lambda: MuGrokfast(**OPTIMIZER_PRESETS[preset]),
                 description=f"{description} (default: preset `{preset}`)")
