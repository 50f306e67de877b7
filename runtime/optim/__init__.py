"""The MuGrokfast optimiser and its parts: Newton–Schulz, Muon, Grokfast, QK-Clip.

See docs/optimizer.md.
"""

from runtime.optim.config import PRESETS, MuGrokfastConfig, PresetRegistry
from runtime.optim.grokfast import GrokfastEMA, GrokfastMA, ema_filter_
from runtime.optim.mugrokfast import MuGrokfast, adamw_update_, route_parameter
from runtime.optim.muon import Muon, muon_update_, update_scale
from runtime.optim.newton_schulz import NS_COEFFICIENTS, orthogonalize
from runtime.optim.qk_clip import QKClip, QKClipTarget, max_logit_per_head

__all__ = [
    "NS_COEFFICIENTS", "PRESETS", "GrokfastEMA", "GrokfastMA", "MuGrokfast",
    "MuGrokfastConfig", "Muon", "PresetRegistry", "QKClip", "QKClipTarget",
    "adamw_update_", "ema_filter_", "max_logit_per_head", "muon_update_", "orthogonalize",
    "route_parameter", "update_scale",
]
