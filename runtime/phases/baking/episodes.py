"""What the baking phase scores and bakes on: episodes and baking queries, drawn once.

- A-cycle: ``a_cycle.episodes`` held-out ``tool_use`` episodes of the suite (at the eval
  levels) and, with ``data = "file.jsonl"``, the file's lines: a seeded half of them
  (at most ``a_cycle.episodes``) is scored with them, the rest are baking queries;
- B-cycle: ``b_cycle.episodes`` held-out ``persona`` episodes short enough to take a
  persona of ``persona_tokens`` tokens in front;
- baking queries: ``bake.trajectories`` training prompts of the family (never held out),
  and up to ``HELDOUT_QUERIES`` prompts of the scored episodes for the bake's held-out KL.

Every draw is a function of the step's seed, so a resumed phase scores the same episodes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from forgelang.kinds.common import SUITE
from forgelang.kinds.quietstar_cost import HELDOUT_QUERIES
from runtime.data.encoding import encode_example
from runtime.data.example import Example
from runtime.data.formatting import format_example
from runtime.data.jsonl import load_jsonl
from runtime.data.splits import derive_seed
from runtime.phases.toolkit.draws import fitting_examples

MIN_EPISODE_TOKENS = 16  # a persona episode needs at least this room beside its persona


def part_seed(seed: int, part: str) -> int:
    """A torch-sized seed for one part of the phase."""
    return derive_seed("baking", seed, part) % 2**63


@dataclass(frozen=True)
class Episodes:
    """The phase's episodes and baking queries.

    Attributes:
        tool: scored suite tool-use episodes.
        data: scored lines of the user's JSONL file ([] for the suite alone).
        tool_queries: training prompts the tool prompt is baked on.
        persona: scored persona episodes (a persona is prepended when scoring).
        persona_queries: training prompts a persona is baked on.
    """

    tool: list[Example]
    data: list[Example]
    tool_queries: list[str]
    persona: list[Example]
    persona_queries: list[str]

    @property
    def scored_tools(self) -> list[Example]:
        """Every scored A-cycle episode: the suite's, then the file's."""
        return self.tool + self.data

    def heldout_queries(self, cycle: str) -> list[str]:
        """Prompts of the cycle's scored episodes for the bake's held-out KL."""
        examples, train = ((self.scored_tools, self.tool_queries) if cycle == "a"
                           else (self.persona, self.persona_queries))
        prompts = dict.fromkeys(format_example(ex)[0] for ex in examples)
        return [q for q in prompts if q not in set(train)][:HELDOUT_QUERIES]


def prompts(examples: list[Example]) -> list[str]:
    """The formatted prompts (``prompt<|sep|>``) of ``examples``: the student's inputs."""
    return [format_example(ex)[0] for ex in examples]


def split_jsonl(path: str, tokenizer, seq_len: int, most: int,
                seed: int) -> tuple[list[Example], list[str]]:
    """``(scored lines, baking queries)`` of the user's file: the lines that fit
    ``seq_len``, shuffled by ``seed``; the first half (at most ``most``) is scored.

    Raises:
        ValueError: no line of the file fits ``seq_len`` tokens (names the file).
    """
    lines = [ex for ex in load_jsonl(path) if len(encode_example(ex, tokenizer)[0]) <= seq_len]
    if not lines:
        raise ValueError(f"{path}: no line fits the model's context of {seq_len} tokens")
    random.Random(seed).shuffle(lines)
    scored = min(most, math.ceil(len(lines) / 2))
    return lines[:scored], prompts(lines[scored:])


def draw_episodes(params, tokenizer, seed: int, seq_len: int) -> Episodes:
    """The phase's episodes (see the module docstring).

    Raises:
        ValueError: the context is too short for a persona and an episode, or the user's
            file has no usable line.
    """
    levels = params.eval.levels
    persona_len = seq_len - params.b_cycle.persona_tokens - 2  # the persona and its space
    if persona_len < MIN_EPISODE_TOKENS:
        raise ValueError(f"b_cycle.persona_tokens = {params.b_cycle.persona_tokens} leaves "
                         f"{persona_len} of the model's {seq_len} tokens for an episode; "
                         f"lower it")
    trajectories = params.bake.trajectories

    def draw(family: str, n: int, split: str, length: int) -> list[Example]:
        return fitting_examples([family], n, part_seed(seed, f"{family}.{split}"), split,
                                tokenizer, length, levels)

    data, data_queries = [], []
    if params.data != SUITE:
        data, data_queries = split_jsonl(params.data, tokenizer, seq_len, params.a_cycle.episodes,
                                         part_seed(seed, "data"))
    return Episodes(tool=draw("tool_use", params.a_cycle.episodes, "heldout", seq_len),
                    data=data,
                    tool_queries=data_queries + prompts(draw("tool_use", trajectories, "train",
                                                             seq_len)),
                    persona=draw("persona", params.b_cycle.episodes, "heldout", persona_len),
                    persona_queries=prompts(draw("persona", trajectories, "train", persona_len)))
