"""The phase kinds the language knows, and the merge techniques EvoMerge may use.

``KINDS`` holds the eight kinds of the Agent Forge V2 pipeline; ``TECHNIQUES`` the
merge techniques. Each kind lives in its own module (Params + estimate + ``KIND``).
"""

from __future__ import annotations

from forgelang.kinds import (
    baking,
    bitnet,
    cognate,
    compression,
    curriculum,
    evomerge,
    experts,
    quietstar,
)
from forgelang.kinds.base import Kind, KindRegistry
from forgelang.kinds.techniques import TECHNIQUES

KINDS = KindRegistry()
for _module in (cognate, evomerge, quietstar, bitnet, curriculum, baking, experts, compression):
    KINDS.register(_module.KIND)

__all__ = ["KINDS", "TECHNIQUES", "Kind", "KindRegistry"]
