"""One task example, its canonical key, the held-out bucket, and exact-match scoring."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

# Share of the prompt space reserved for held-out data: a prompt is held out iff
# its canonical hash lands in the first HELDOUT_BUCKETS of BUCKETS buckets.
BUCKETS = 1000
HELDOUT_BUCKETS = 100


@dataclass(frozen=True)
class Example:
    """A prompt with its exact expected answer.

    Attributes:
        prompt: Text the model sees.
        answer: The exact answer (scored after whitespace normalisation).
        family: Task family name, e.g. ``"arithmetic"``.
        level: Difficulty level, 1 (easiest) to 10.
        meta: Family-specific details (e.g. the tool call of a tool-use episode).
    """

    prompt: str
    answer: str
    family: str
    level: int = 1
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        """Canonical hash of (family, normalised prompt); decides the split."""
        return canonical_key(self.family, self.prompt)

    @property
    def split(self) -> str:
        """``"heldout"`` or ``"train"``, fixed by the prompt alone."""
        return split_of(self.key)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the JSONL line format)."""
        row: dict[str, Any] = {"prompt": self.prompt, "answer": self.answer,
                               "family": self.family, "level": self.level}
        if self.meta:
            row["meta"] = self.meta
        return row


def normalise_whitespace(text: str) -> str:
    """Collapse runs of whitespace to one space and strip the ends."""
    return " ".join(text.split())


def exact_match(prediction: str, example: Example) -> bool:
    """True iff the prediction equals the answer after whitespace normalisation."""
    return normalise_whitespace(prediction) == normalise_whitespace(example.answer)


def canonical_key(family: str, prompt: str) -> str:
    """sha256 of the family and the whitespace-normalised prompt (hex)."""
    text = f"{family}\x1f{normalise_whitespace(prompt)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_of(key: str) -> str:
    """The split a canonical key belongs to; the same key always lands in the same split."""
    bucket = int(key[:12], 16) % BUCKETS
    return "heldout" if bucket < HELDOUT_BUCKETS else "train"
