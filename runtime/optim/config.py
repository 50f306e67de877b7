"""MuGrokfast settings and the design's per-phase presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from forgelang.diagnostics import did_you_mean
from forgelang.registry import Registry
from runtime.optim.grokfast import EMA_ALPHA, EMA_LAMBDA
from runtime.optim.muon import MUON_LR, MUON_MOMENTUM, MUON_SCALES
from runtime.optim.newton_schulz import NS_DTYPES, NS_STEPS
from runtime.optim.qk_clip import QK_CLIP_TAU


@dataclass(frozen=True)
class MuGrokfastConfig:
    """Every MuGrokfast knob, with the reason for its default.

    Attributes:
        muon_lr: Muon's lr for 2-D hidden matrices (0.02 is the reference for the
            "jordan" scale).
        adam_lr: AdamW's lr for embeddings, the head, norms' gains and biases.
        momentum: Muon's momentum β (0.95, Muon's default).
        nesterov: Nesterov look-ahead in Muon (on, as in the reference).
        ns_steps: Newton–Schulz iterations (5, enough with the quintic coefficients).
        grokfast_alpha: EMA momentum α of the Grokfast filter (0.98, paper default).
        grokfast_lambda: amplification λ of the slow gradient (2.0, paper default; 0 = off).
        qk_clip_tau: logit cap τ for QK-Clip (30, the design's choice; 0 = off).
        weight_decay: decoupled weight decay for matrices (Muon and AdamW ones); 1-D
            tensors (norms' gains, biases) are never decayed.
        ste_mode: ternary straight-through training: the optimiser keeps fp32 latent
            weights for any parameter stored in lower precision and writes the rounded
            result back after each step, so small updates accumulate.
        kl_coefficient: the KL penalty of the RL phases; stored for the loss, not used
            by the optimiser.
        muon_scale: "jordan" (sqrt(max(1, rows/cols))) or "moonlight"
            (0.2·sqrt(max(rows, cols)), which lets AdamW's lr be reused).
        adam_betas: AdamW's (β1, β2) = (0.9, 0.95), as in the Muon/Moonlight setups.
        adam_eps: AdamW's ε.
        ns_dtype: precision of Newton–Schulz: "auto" (bf16 where the device multiplies
            bf16 natively, as the Muon reference does; else fp32), "float32" or "bfloat16".
    """

    muon_lr: float = MUON_LR
    adam_lr: float = 3e-4
    momentum: float = MUON_MOMENTUM
    nesterov: bool = True
    ns_steps: int = NS_STEPS
    grokfast_alpha: float = EMA_ALPHA
    grokfast_lambda: float = EMA_LAMBDA
    qk_clip_tau: float = QK_CLIP_TAU
    weight_decay: float = 0.0
    ste_mode: bool = False
    kl_coefficient: float = 0.0
    muon_scale: str = "jordan"
    adam_betas: tuple[float, float] = (0.9, 0.95)
    adam_eps: float = 1e-8
    ns_dtype: str = "auto"

    def __post_init__(self) -> None:
        if self.muon_scale not in MUON_SCALES:
            raise ValueError(f"muon_scale must be one of {MUON_SCALES}, got {self.muon_scale!r}")
        if not 0.0 <= self.grokfast_alpha < 1.0:
            raise ValueError(f"grokfast_alpha must be in [0, 1), got {self.grokfast_alpha}")
        if self.ns_dtype not in NS_DTYPES:
            raise ValueError(f"ns_dtype must be one of {NS_DTYPES}, got {self.ns_dtype!r}")
        if self.qk_clip_tau < 0 or self.ns_steps < 1:
            raise ValueError("qk_clip_tau must be >= 0 and ns_steps >= 1")

    @classmethod
    def from_dict(cls, cfg: dict) -> MuGrokfastConfig:
        """Build from a dict, rejecting unknown keys with a did-you-mean hint."""
        known = {f.name for f in fields(cls)}
        for key in cfg:
            if key not in known:
                hint = did_you_mean(key, known) or ""
                raise KeyError(f"unknown MuGrokfast setting {key!r}. {hint}".strip())
        values = dict(cfg)
        if "adam_betas" in values:
            values["adam_betas"] = tuple(values["adam_betas"])
        return cls(**values)

    def to_dict(self) -> dict:
        """A plain dict (JSON-serialisable)."""
        return asdict(self)

    def with_overrides(self, **overrides) -> MuGrokfastConfig:
        """A copy with some fields changed (validated by ``from_dict``'s rules)."""
        return self.from_dict({**self.to_dict(), **overrides}) if overrides else replace(self)


class PresetRegistry(Registry[MuGrokfastConfig]):
    """Named MuGrokfast presets: ``register(name, config)``, ``get`` and ``names``."""

    def __init__(self) -> None:
        super().__init__("MuGrokfast preset", error=KeyError)


# The design's per-phase presets (seed/architecture.rst, "Phase-Specific Presets");
# every other field keeps its default.
PRESETS = PresetRegistry()
PRESETS.register("phase1", MuGrokfastConfig(muon_lr=1e-3, grokfast_lambda=0.3))
PRESETS.register("phase3", MuGrokfastConfig(muon_lr=5e-4, kl_coefficient=0.1))
PRESETS.register("phase5", MuGrokfastConfig(ste_mode=True, grokfast_lambda=2.0))
