"""What the stages have made so far, and what it takes on disk."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from runtime.compression.codes import LayerCode


@dataclass
class State:
    """The phase's progress through its stages.

    Attributes:
        forms: the stored form of each target layer (None: dense, as in the input).
        weights: each target's dense float32 weight (decoded from its form).
        dense_bytes: bytes each target's dense weight took in the input.
        shared: codebooks shared by layers (by name), as stored (float16).
        accuracy: held-out accuracy of the model as it now is.
    """

    forms: dict[str, LayerCode | None]
    weights: dict[str, torch.Tensor]
    dense_bytes: dict[str, int]
    shared: dict[str, torch.Tensor] = field(default_factory=dict)
    accuracy: float = 0.0

    def codes(self) -> dict[str, LayerCode]:
        """The targets stored in a compressed (or ternary) form."""
        return {n: c for n, c in self.forms.items() if c is not None}

    def used_shared(self) -> dict[str, torch.Tensor]:
        """The shared codebooks some layer's form refers to."""
        names = {c.meta.get(k) for c in self.codes().values()
                 for k in ("codebook", "residual_codebook")}
        return {n: t for n, t in self.shared.items() if n in names}

    def layer_bytes(self, name: str) -> int:
        """Bytes of one target as it is stored now (its share of codebooks not included)."""
        form = self.forms[name]
        return form.nbytes() if form is not None else self.dense_bytes[name]

    def stored_bytes(self) -> int:
        """Bytes of every target plus the codebooks they use."""
        return (sum(self.layer_bytes(n) for n in self.forms)
                + sum(t.numel() * t.element_size() for t in self.used_shared().values()))

    def weight_count(self) -> int:
        return sum(w.numel() for w in self.weights.values())
