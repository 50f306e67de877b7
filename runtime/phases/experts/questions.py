"""The experts phase's question sets: seeded, held-out (except the training pools), per skill.

Every set is its own seeded draw (``derive_seed("experts", seed, purpose)``), so the
domains are picked on one set and the experts are judged on another (picking on the
judging set would favour the experts: the weakest skills there regress to the mean).

- ``analysis``: ``samples_per_skill`` per skill: self-analysis (weakest skills);
- ``measure``: ``samples_per_skill`` per skill: experts vs base, the chosen mix, and
  the prompt classifier's accuracy;
- ``search``: ``nsga2.examples`` per skill: each NSGA-II evaluation;
- ``mixing``: ``mixing.examples`` of the experts' skills: each CEM sample;
- training pools: ``steps * batch_size`` training questions of one domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from runtime.data.example import Example
from runtime.data.formatting import format_example
from runtime.data.splits import derive_seed
from runtime.phases.toolkit.batches import MAX_POOL
from runtime.phases.toolkit.draws import fitting_examples


def draw(skills: Sequence[str], per_skill: int, seed: int, purpose: str, split: str,
         tokenizer, seq_len: int, levels: Sequence[int]) -> list[Example]:
    """``per_skill`` seeded examples of each skill, skill after skill."""
    out: list[Example] = []
    for skill in skills:
        out += fitting_examples([skill], per_skill, derive_seed("experts", seed, purpose, skill),
                                split, tokenizer, seq_len, levels)
    return out


@dataclass(frozen=True)
class QuestionSets:
    """The held-out sets of one run (see the module docstring)."""

    analysis: list[Example]
    measure: list[Example]
    search: list[Example]

    @classmethod
    def draw(cls, params, tokenizer, seed: int, seq_len: int) -> QuestionSets:
        skills, levels = params.self_analysis.skills, params.eval.levels
        n = params.self_analysis.samples_per_skill
        return cls(draw(skills, n, seed, "analysis", "heldout", tokenizer, seq_len, levels),
                   draw(skills, n, seed, "measure", "heldout", tokenizer, seq_len, levels),
                   draw(skills, params.nsga2.examples, seed, "search", "heldout", tokenizer,
                        seq_len, levels))


def mixing_questions(params, domains: Sequence[str], tokenizer, seed: int,
                     seq_len: int) -> list[Example]:
    """``mixing.examples`` held-out questions shared out over the experts' skills."""
    n, out = params.mixing.examples, []
    for i, skill in enumerate(domains):
        share = n // len(domains) + (1 if i < n % len(domains) else 0)
        if share:
            out += draw([skill], share, seed, "mixing", "heldout", tokenizer, seq_len,
                        params.eval.levels)
    return out


def training_pool(params, skill: str, tokenizer, seed: int, seq_len: int) -> list[Example]:
    """The domain's training questions, ``steps * batch_size`` of them (capped)."""
    n = max(params.svf.batch_size, min(params.svf.steps * params.svf.batch_size, MAX_POOL))
    return draw([skill], n, seed, "train", "train", tokenizer, seq_len, params.eval.levels)


def length_batches(pool: Sequence[Example], tokenizer, batch_size: int,
                   seed: int) -> list[torch.Tensor]:
    """The pool's indices cut into batches of prompts of (nearly) one token length, in a
    seeded order: a batch's answers are then sampled in one ``generate()`` call."""
    gen = torch.Generator().manual_seed(seed % 2**63)
    shuffled = torch.randperm(len(pool), generator=gen).tolist()
    lengths = {i: len(tokenizer(format_example(pool[i])[0])["input_ids"]) for i in shuffled}
    ordered = sorted(shuffled, key=lambda i: lengths[i])  # stable: seeded order within a length
    batches = [ordered[s: s + batch_size] for s in range(0, len(ordered), batch_size)]
    batches = [b for b in batches if len(b) == batch_size] or batches[:1]
    order = torch.randperm(len(batches), generator=gen).tolist()
    return [torch.tensor(batches[i]).unsqueeze(1) for i in order]  # each (B, 1)


def split_by_skill(examples: Sequence[Example], skills: Sequence[str]) -> tuple[list, list]:
    """(examples of ``skills``, the others)."""
    inside = [ex for ex in examples if ex.family in skills]
    return inside, [ex for ex in examples if ex.family not in skills]
