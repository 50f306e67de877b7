"""The question streams of the curriculum: training questions by level, held-out sets.

Curriculum questions come from the suite's graded reasoning families
(``CURRICULUM_FAMILIES``), and a ``tool_fraction`` of them are tool-use episodes (the
``tool_use`` family: the target writes a calculator call, the runtime's result follows).
Question ``i`` at level ``L`` is a function of the phase seed, ``i`` and ``L`` alone, so a
resumed run, or a replayed question, is the same text. Questions that do not fit
``seq_len`` tokens are redrawn (``runtime.phases.toolkit.draws.fitting_examples``), and
when a family has none that fit at that level, the other families are tried.

The kernel toolkit (``runtime.phases.toolkit``) is imported inside functions:
importing ``runtime.phases`` registers every kernel, this phase's too, which imports
this module, so a top-level import would be circular.
"""

from __future__ import annotations

from collections.abc import Sequence

from forgelang.kinds.curriculum import CURRICULUM_FAMILIES, TOOL_FAMILY, other_families
from runtime.curriculum.replay import QuestionRef
from runtime.data import TASKS
from runtime.data.example import Example
from runtime.data.splits import derive_seed

UNIT = 2.0**64  # derive_seed's range: a seed / UNIT is uniform in [0, 1)


def stream_seed(seed: int, *parts: object) -> int:
    """A torch/Python-sized seed for one draw of the curriculum."""
    return derive_seed("curriculum", seed, *parts) % 2**63


class QuestionStream:
    """Training questions of the phase, regenerated from their :class:`QuestionRef`."""

    def __init__(self, tokenizer, seq_len: int, seed: int, tool_fraction: float) -> None:
        self.tokenizer, self.seq_len, self.seed = tokenizer, seq_len, seed
        self.tool_fraction = tool_fraction
        self._cache: dict[QuestionRef, Example] = {}

    def ref(self, index: int, level: int) -> QuestionRef:
        """New question ``index`` at ``level``; a tool episode with probability
        ``tool_fraction`` (decided by the index alone)."""
        tool = derive_seed(self.seed, "tool", index) / UNIT < self.tool_fraction
        return QuestionRef(index, level, tool)

    def example(self, ref: QuestionRef) -> Example:
        """The question ``ref`` names (a training-split example that fits ``seq_len``)."""
        if ref not in self._cache:
            self._cache[ref] = self._draw(ref)
        return self._cache[ref]

    def _draw(self, ref: QuestionRef) -> Example:
        from runtime.phases.toolkit.draws import fitting_examples

        if ref.tool:
            families = [TOOL_FAMILY, *CURRICULUM_FAMILIES]
        else:
            first = derive_seed(self.seed, "family", ref.index) % len(CURRICULUM_FAMILIES)
            families = [*CURRICULUM_FAMILIES[first:], *CURRICULUM_FAMILIES[:first]]
        for family in families:
            try:
                return fitting_examples([family], 1, stream_seed(self.seed, "q", ref.index,
                                                                 ref.level, family),
                                        "train", self.tokenizer, self.seq_len, [ref.level])[0]
            except ValueError:
                continue  # no question of this family at this level fits: the next family
        raise ValueError(f"no curriculum question at level {ref.level} fits seq_len="
                         f"{self.seq_len} tokens; raise seq_len or lower `levels`")


def level_questions(tokenizer, level: int, count: int, seed: int,
                    seq_len: int) -> list[Example]:
    """``count`` held-out curriculum questions of one level (the assessment set)."""
    from runtime.phases.toolkit.draws import fitting_examples

    return fitting_examples(list(CURRICULUM_FAMILIES), count, stream_seed(seed, "assess", level),
                            "heldout", tokenizer, seq_len, [level])


def family_questions(tokenizer, family: str, count: int, seed: int, seq_len: int,
                     levels: Sequence[int]) -> list[Example]:
    """``count`` held-out questions of one family at ``levels``."""
    from runtime.phases.toolkit.draws import fitting_examples

    return fitting_examples([family], count, stream_seed(seed, "family", family), "heldout",
                            tokenizer, seq_len, levels)


def retention_families() -> list[str]:
    """The suite families the curriculum does not train (forgetting is measured on them)."""
    return other_families(TASKS.names())
