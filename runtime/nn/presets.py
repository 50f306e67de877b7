"""Size presets of the Cognate model for the three scales (smoke, tiny, full).

Recipes may override any field (``vocab_size`` must match the tokenizer). The recursion depth of
smoke/tiny is cut (our choice) so they train in seconds to minutes on 2 CPU cores; ``full`` keeps
the TRM paper's n = 6, T = 3. Measured parameter counts are in docs/architecture.md.
"""

from __future__ import annotations

from typing import Any

from forgelang.kinds.cognate_arch import ARCH_PRESETS, arch_from
from runtime.nn.config import TrmTitansMagConfig

# One source of truth: the planner's presets (forgelang is torch-free), so `forge plan`
# and the model built here always agree on the shapes.
PRESETS: dict[str, dict[str, Any]] = {
    name: arch_from(name).model_dump(mode="json", exclude={"type"}) for name in ARCH_PRESETS
}


def preset_config(name: str, **overrides: Any) -> TrmTitansMagConfig:
    """Build the config of a named size preset, with field overrides.

    Args:
        name: One of ``PRESETS`` (smoke, tiny, full).
        **overrides: Config fields to change, e.g. ``vocab_size=tokenizer_size``.

    Raises:
        KeyError: Unknown preset name (the message lists the known ones).
    """
    if name not in PRESETS:
        import difflib

        close = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"unknown Cognate size preset {name!r}{hint} (known: {', '.join(PRESETS)})")
    return TrmTitansMagConfig(**{**PRESETS[name], **overrides})
