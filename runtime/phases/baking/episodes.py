"""What the baking phase scores and bakes on: episodes and baking queries, drawn once.

- A-cycle: ``a_cycle.episodes`` held-out ``tool_use`` episodes of the suite (at the eval
  levels) and, with ``data = "file.jsonl"``, the file's lines: a seeded half of them
  (at most ``a_cycle.episodes``) is scored with them, the rest are baking queries;
- B-cycle: ``b_cycle.episodes`` held-out ``persona`` episodes short enough to take a
  persona of ``persona_tokens`` tokens in front;
- baking queries: ``bake.trajectories`` training prompts of the family (never held out),
  all of one token length (the commonest among ``QUERY_POOL`` times as many drawn), and
  up to ``HELDOUT_QUERIES`` prompts of the scored episodes, also of one length, for the
  bake's held-out KL. Equal lengths matter for time: the baking library runs each distinct
  row length of a batch as its own forward (``runtime.baking.forward.causal_logits``),
  once per sampled token.

Every draw is a function of the step's seed, so a resumed phase scores the same episodes.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
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
QUERY_POOL = 4  # training prompts drawn per baking query, to find enough of one length


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
        tool_heldout, persona_heldout: prompts of the scored episodes for the bakes'
            held-out KL (none of them a baking query).
    """

    tool: list[Example]
    data: list[Example]
    tool_queries: list[str]
    persona: list[Example]
    persona_queries: list[str]
    tool_heldout: list[str]
    persona_heldout: list[str]

    @property
    def scored_tools(self) -> list[Example]:
        """Every scored A-cycle episode: the suite's, then the file's."""
        return self.tool + self.data

    def heldout_queries(self, cycle: str) -> list[str]:
        """The cycle's prompts for the bake's held-out KL."""
        return self.tool_heldout if cycle == "a" else self.persona_heldout


def prompts(examples: Sequence[Example]) -> list[str]:
    """The formatted prompts (``prompt<|sep|>``) of ``examples``: the student's inputs."""
    return [format_example(ex)[0] for ex in examples]


def token_length(tokenizer, text: str) -> int:
    """Tokens of ``text`` as the baking library encodes it (special tokens included)."""
    return len(tokenizer(text).input_ids)


def one_length(tokenizer, queries: Sequence[str], n: int) -> list[str]:
    """Up to ``n`` of ``queries`` that share one token length: the commonest length
    (ties: the shortest), in draw order."""
    by_length: dict[int, list[str]] = defaultdict(list)
    for query in dict.fromkeys(queries):
        by_length[token_length(tokenizer, query)].append(query)
    length = max(by_length, key=lambda k: (len(by_length[k]), -k))
    return by_length[length][:n]


def heldout_queries(tokenizer, examples: Sequence[Example], train: Sequence[str]) -> list[str]:
    """Up to ``HELDOUT_QUERIES`` prompts of ``examples`` of one length that are not
    training queries.

    Raises:
        ValueError: every prompt of ``examples`` is a training query.
    """
    taken = set(train)
    fresh = [q for q in prompts(examples) if q not in taken]
    if not fresh:
        raise ValueError("no scored episode is left to measure the bakes' held-out KL on; "
                         "every one is also a baking query (a JSONL file that repeats its lines?)")
    return one_length(tokenizer, fresh, HELDOUT_QUERIES)


def split_jsonl(path: str, tokenizer, seq_len: int, most: int,
                seed: int) -> tuple[list[Example], list[str]]:
    """``(scored lines, baking queries)`` of the user's file: the lines that fit
    ``seq_len``, shuffled by ``seed``; the first half (at most ``most``) is scored. A line
    of the file's held-out share (``Example.split``, what the phase's accuracy is measured
    on: ``runtime.data.jsonl_heldout``) is never a baking query.

    Raises:
        ValueError: no line of the file fits ``seq_len`` tokens (names the file).
    """
    lines = [ex for ex in load_jsonl(path) if len(encode_example(ex, tokenizer)[0]) <= seq_len]
    if not lines:
        raise ValueError(f"{path}: no line fits the model's context of {seq_len} tokens")
    random.Random(seed).shuffle(lines)
    scored = min(most, math.ceil(len(lines) / 2))
    return lines[:scored], prompts([ex for ex in lines[scored:] if ex.split == "train"])


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
    tool = draw("tool_use", params.a_cycle.episodes, "heldout", seq_len)
    persona = draw("persona", params.b_cycle.episodes, "heldout", persona_len)
    pool = QUERY_POOL * trajectories
    tool_queries = data_queries + one_length(
        tokenizer, prompts(draw("tool_use", pool, "train", seq_len)), trajectories)
    persona_queries = one_length(tokenizer, prompts(draw("persona", pool, "train", persona_len)),
                                 trajectories)
    return Episodes(tool=tool, data=data, tool_queries=tool_queries, persona=persona,
                    persona_queries=persona_queries,
                    tool_heldout=heldout_queries(tokenizer, tool + data, tool_queries),
                    persona_heldout=heldout_queries(tokenizer, persona, persona_queries))
