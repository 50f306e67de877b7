"""The curriculum's held-out sets and what is measured on them.

- assessment: ``assessment_questions`` held-out curriculum questions at each level,
  scored by exact teacher-forced answers (``runtime.curriculum.scoring``) at the phase's
  start (``level.<k>.start``: the edge-of-chaos assessment) and end (``level.<k>.end``);
- other families: ``assessment_questions`` held-out questions of each family the
  curriculum does not train, start and end (``forgetting.other_families``);
- tools: ``eval.examples`` held-out tool-use questions, decoded (``runtime.curriculum.tools``);
- rules: ``eval.examples`` held-out ``rules`` prompts (a rule stated in the prompt, the
  baked eudaimonia rules absent), before and after the bake (``eudaimonia.adherence_*``).

Every set is drawn from the phase seed, so a resumed run measures the same questions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from runtime.curriculum.questions import (
    family_questions,
    level_questions,
    retention_families,
    stream_seed,
)
from runtime.curriculum.scoring import accuracy, exact_answers
from runtime.data.example import Example
from runtime.phases.toolkit.draws import fitting_examples


@dataclass(frozen=True)
class HeldoutSets:
    """The phase's held-out questions by purpose (never trained on)."""

    levels: dict[int, list[Example]]
    families: dict[str, list[Example]]
    tools: list[Example]
    rules: list[Example]


def heldout_sets(tokenizer, params, seed: int) -> HeldoutSets:
    """Draw every held-out set of the phase (questions that fit ``params.seq_len``)."""
    n, seq_len, levels = params.controller.assessment_questions, params.seq_len, params.eval.levels
    per_level = {k: level_questions(tokenizer, k, n, seed, seq_len)
                 for k in range(1, params.levels + 1)}
    others = {f: family_questions(tokenizer, f, n, seed, seq_len, levels)
              for f in retention_families()}
    tools = fitting_examples(["tool_use"], params.eval.examples, stream_seed(seed, "tools"),
                             "heldout", tokenizer, seq_len, levels)
    rules = fitting_examples(["rules"], params.eval.examples, stream_seed(seed, "rules"),
                             "heldout", tokenizer, seq_len, levels)
    return HeldoutSets(per_level, others, tools, rules)


def score_groups(model, tokenizer, groups: Mapping[object, Sequence[Example]], seq_len: int,
                 batch_size: int, device) -> dict[object, list[bool]]:
    """Exact teacher-forced answers of every group, scored in shared batches."""
    keys = list(groups)
    flat = [ex for k in keys for ex in groups[k]]
    outcomes = exact_answers(model, tokenizer, flat, seq_len, batch_size, device)
    out, at = {}, 0
    for k in keys:
        out[k] = outcomes[at:at + len(groups[k])]
        at += len(groups[k])
    return out


@dataclass(frozen=True)
class Snapshot:
    """Exact answers on the assessment and the other families at one moment."""

    levels: dict[int, list[bool]]
    families: dict[str, list[bool]]

    def metrics(self, when: str) -> dict[str, float]:
        """``level.<k>.<when>`` accuracies."""
        return {f"level.{k}.{when}": accuracy(v) for k, v in self.levels.items()}


def snapshot(model, tokenizer, sets: HeldoutSets, params, device) -> Snapshot:
    """Score the assessment and other-family sets (one batched pass over both)."""
    groups = {**{("level", k): v for k, v in sets.levels.items()},
              **{("family", f): v for f, v in sets.families.items()}}
    scored = score_groups(model, tokenizer, groups, params.seq_len, params.eval.batch_size,
                          device)
    return Snapshot({k: scored[("level", k)] for k in sets.levels},
                    {f: scored[("family", f)] for f in sets.families})


def early_levels(levels_trained: Sequence[int]) -> list[int]:
    """The levels trained before the last one reached (the start level when it never moved)."""
    if not levels_trained:
        raise ValueError("no curriculum step was trained")
    earlier = sorted(set(levels_trained) - {levels_trained[-1]})
    return earlier or [levels_trained[0]]


def _drop(start: Sequence[Sequence[bool]], end: Sequence[Sequence[bool]]) -> float:
    """Pooled accuracy at the start minus at the end, over the same questions."""
    before = [x for group in start for x in group]
    after = [x for group in end for x in group]
    return accuracy(before) - accuracy(after)


def forgetting(start: Snapshot, end: Snapshot, early: Sequence[int]) -> dict[str, float]:
    """Accuracy drops between the phase's start and end (positive = forgotten)."""
    early_start = [start.levels[k] for k in early]
    early_end = [end.levels[k] for k in early]
    fam = sorted(start.families)
    fam_start, fam_end = [start.families[f] for f in fam], [end.families[f] for f in fam]
    return {"forgetting": _drop(early_start + fam_start, early_end + fam_end),
            "forgetting.early_levels": _drop(early_start, early_end),
            "forgetting.other_families": _drop(fam_start, fam_end),
            **{f"forgetting.{f}": _drop([start.families[f]], [end.families[f]]) for f in fam}}


def adherence(model, tokenizer, sets: HeldoutSets, params, device) -> float:
    """Share of held-out rule prompts answered exactly as their rule says."""
    return accuracy(exact_answers(model, tokenizer, sets.rules, params.seq_len,
                                  params.eval.batch_size, device))
