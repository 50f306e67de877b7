"""Size presets of the Cognate model for the three scales (smoke, tiny, full).

Recipes may override any field (``vocab_size`` must match the tokenizer). The recursion depth of
smoke/tiny is cut (our choice) so they train in seconds to minutes on 2 CPU cores; ``full`` keeps
the TRM paper's n = 6, T = 3. Measured parameter counts are in docs/architecture.md.
"""

from __future__ import annotations

from typing import Any

from runtime.nn.config import TrmTitansMagConfig

PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(  # ~50k parameters
        vocab_size=384, d_model=32, n_layers=2, n_heads=2, d_ff=96, window=32, n_persistent=4,
        memory_hidden=32, memory_chunk=8, n_latent_steps=2, n_cycles=2, supervision_steps=2,
        max_seq_len=128,
    ),
    "tiny": dict(  # ~1M parameters
        vocab_size=512, d_model=128, n_layers=3, n_heads=4, d_ff=384, window=64, n_persistent=4,
        memory_hidden=128, memory_chunk=16, n_latent_steps=3, n_cycles=2, supervision_steps=2,
        max_seq_len=256,
    ),
    "full": dict(  # ~25M parameters, the design's size
        vocab_size=8192, d_model=512, n_layers=4, n_heads=8, d_ff=1536, window=128,
        n_persistent=8, memory_hidden=512, memory_chunk=16, n_latent_steps=6, n_cycles=3,
        supervision_steps=4, max_seq_len=512,
    ),
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
