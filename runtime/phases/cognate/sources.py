"""Where the cognate phase's examples come from: the synthetic suite or the user's JSONL.

Both give the same three things: a training stream for the shared pre-training, one for
each specialist role (its families plus ``replay`` of everything), and a held-out set.
A JSONL file is split like the suite, by a hash of each prompt (about 10% held out), so
train and held-out never share a prompt. A JSONL example belongs to a role when its
``family`` is one of the role's suite families (``SPECIALIST_MIXES``) or the role's name.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from forgelang.kinds.common import SUITE
from forgelang.kinds.suite_roles import stage_weights
from runtime.data import TASKS, TaskMix
from runtime.data.encoding import encode_example
from runtime.data.example import Example
from runtime.data.jsonl import load_jsonl
from runtime.data.splits import SPECIALIST_MIXES, derive_seed
from runtime.phases.toolkit.batches import BatchStream, encode_pool, training_stream
from runtime.phases.toolkit.draws import fitting_examples

GENERAL = None  # the role argument of the shared pre-training stream


def general_mix() -> TaskMix:
    """All task families, equally weighted: the shared pre-training mix (``stage_weights``
    with no role, as the planner prices it)."""
    return TaskMix(stage_weights(None, 0.0, TASKS.names()))


def role_mix(role: str, replay: float = 0.0) -> TaskMix:
    """The specialist mix of ``role`` (``SPECIALIST_MIXES``) with ``replay`` of the general mix
    (``forgelang.kinds.suite_roles.stage_weights``, which the planner prices too)."""
    return TaskMix(stage_weights(role, replay, TASKS.names()))


class SuiteSource:
    """The deterministic synthetic task suite, drawn from ``levels``."""

    def __init__(self, tokenizer, seq_len: int, levels: Sequence[int]):
        self.tokenizer, self.seq_len, self.levels = tokenizer, seq_len, list(levels)

    def stream(self, role: str | None, replay: float, steps: int, batch_size: int,
               seed: int) -> BatchStream:
        """Batches of the general mix (``role=None``) or of a role's mix with replay."""
        mix = general_mix() if role is None else role_mix(role, replay)
        return training_stream(mix, steps, batch_size, self.seq_len, self.tokenizer, seed,
                               self.levels)

    def heldout(self, n: int, seed: int, levels: Sequence[int]) -> list[Example]:
        """``n`` held-out examples of every family."""
        return fitting_examples(TASKS.names(), n, seed, "heldout", self.tokenizer,
                                self.seq_len, levels)


def in_role(example: Example, role: str) -> bool:
    """Whether a user example belongs to a specialist role (see the module docstring)."""
    return example.family == role or example.family in SPECIALIST_MIXES[role].weights


class JsonlSource:
    """The user's ``{"prompt", "answer"[, "family", "level"]}`` lines.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: no example fits ``seq_len``, or the held-out share is empty.
    """

    def __init__(self, path: str | Path, tokenizer, seq_len: int):
        self.path, self.tokenizer, self.seq_len = Path(path), tokenizer, seq_len
        if not self.path.exists():  # anything else that is wrong, load_jsonl says exactly
            raise FileNotFoundError(f"cognate data file {self.path} does not exist "
                                    f"(relative paths are read from {Path.cwd()})")
        fits = [ex for ex in load_jsonl(self.path)
                if len(encode_example(ex, tokenizer)[0]) <= seq_len]
        self.train = [ex for ex in fits if ex.split == "train"]
        self._heldout = [ex for ex in fits if ex.split == "heldout"]
        if not self.train or not self._heldout:
            raise ValueError(f"{self.path}: {len(fits)} examples fit seq_len={seq_len}, "
                             f"{len(self.train)} train and {len(self._heldout)} held out "
                             "(~10% by prompt hash); both need at least one: add examples")

    def _role_examples(self, role: str, replay: float, rng: random.Random) -> list[Example]:
        own = [ex for ex in self.train if in_role(ex, role)]
        if not own:
            present = sorted({ex.family for ex in self.train})
            raise ValueError(f"{self.path}: no training example for role {role!r}; give lines "
                             f"a \"family\" of {role!r} or one of "
                             f"{sorted(SPECIALIST_MIXES[role].weights)} (present: {present})")
        extra = round(len(own) * replay / (1.0 - replay)) if replay > 0 else 0
        return own + [rng.choice(self.train) for _ in range(extra)]

    def stream(self, role: str | None, replay: float, steps: int, batch_size: int,
               seed: int) -> BatchStream:
        """Batches of every training line (``role=None``) or of a role's lines with replay."""
        rng = random.Random(derive_seed("cognate-jsonl", seed))
        examples = self.train if role is None else self._role_examples(role, replay, rng)
        input_ids, labels = encode_pool(examples, self.tokenizer, self.seq_len)
        return BatchStream(input_ids, labels, batch_size, seed)

    def heldout(self, n: int, seed: int, levels: Sequence[int]) -> list[Example]:
        """Up to ``n`` held-out lines (levels are the file's own; ``levels`` is ignored)."""
        if len(self._heldout) <= n:
            return list(self._heldout)
        return random.Random(derive_seed("cognate-jsonl-heldout", seed)).sample(self._heldout, n)


def data_source(params, tokenizer) -> SuiteSource | JsonlSource:
    """The source a cognate ``params`` names: the suite (``data = suite``) or a JSONL file."""
    if params.data == SUITE:
        return SuiteSource(tokenizer, params.seq_len, params.levels)
    return JsonlSource(params.data, tokenizer, params.seq_len)
