"""Greedy answers with a thought before every generated token, or a control in its place.

Modes (the anti-theatre conditions):

- ``thoughts``: a thought sampled from the model, the mixed prediction decides;
- ``none``: no thought, the model's own prediction (the mixing weight is not used);
- ``random``: uniformly random non-special tokens of the same length as the thought;
- ``shuffled``: real thoughts, each given to another example (rotated by one among all
  examples of the batch, finished ones included, so every example gets a foreign one).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from runtime.thoughts.head import MixingHead
from runtime.thoughts.lm import run_lm
from runtime.thoughts.rows import ThoughtRows, random_thoughts, sample_thoughts, thought_rows
from runtime.thoughts.score import predictions
from runtime.thoughts.tokens import ThoughtTokens

MODES = ("thoughts", "none", "random", "shuffled")


def padded(sequences: Sequence[Sequence[int]], pad_id: int) -> torch.Tensor:
    """``(N, T)`` right-padded ids."""
    ids = torch.full((len(sequences), max(len(s) for s in sequences)), pad_id, dtype=torch.long)
    for i, seq in enumerate(sequences):
        ids[i, : len(seq)] = torch.tensor(list(seq), dtype=torch.long)
    return ids


def fill_thoughts(model, rows: ThoughtRows, tokens: ThoughtTokens, mode: str, temperature: float,
                  generator: torch.Generator) -> ThoughtRows:
    """Put the mode's thought (or control) into every row."""
    if mode == "random":
        return random_thoughts(rows, tokens, generator)
    if mode == "shuffled" and len(rows.ids) < 2:
        raise ValueError("the shuffled control gives each example another example's thought: "
                         "it needs at least two prompts decoded together")
    sampled = sample_thoughts(model, rows, tokens, temperature, generator)
    if mode == "shuffled":
        return rows.with_thoughts(sampled.thoughts().roll(-1, dims=0))
    return sampled


@torch.no_grad()
def next_tokens(model, head: MixingHead, tokens: ThoughtTokens, sequences: Sequence[Sequence[int]],
                mode: str, temperature: float, generator: torch.Generator,
                pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy next token of each sequence under ``mode``: ``(ids (N,), mixing weights (N,))``."""
    ids = padded(sequences, pad_id).to(next(model.parameters()).device)
    last = torch.tensor([len(s) - 1 for s in sequences], device=ids.device)
    base_out = run_lm(model, ids)
    if mode == "none":
        return base_out[0][torch.arange(len(ids)), last].argmax(-1), torch.zeros(len(ids))
    places = [(i, len(s) - 1, 0) for i, s in enumerate(sequences)]
    rows = fill_thoughts(model, thought_rows(sequences, places, tokens, 1, pad_id), tokens, mode,
                         temperature, generator)
    pred = predictions(head, rows, run_lm(model, rows.ids.to(ids.device)), base_out, 1)
    return pred.mixed[:, 0].argmax(-1), pred.weight[:, 0]


def decode(model, head: MixingHead, tokens: ThoughtTokens, prompts: Sequence[Sequence[int]], *,
           max_new_tokens: int, stop_ids: Sequence[int], pad_id: int, mode: str = "thoughts",
           temperature: float = 1.0, seed: int = 0) -> list[list[int]]:
    """Greedy continuations of ``prompts`` (token ids), each cut after its first stop token."""
    if mode not in MODES:
        raise ValueError(f"unknown thought mode {mode!r}; expected one of {MODES}")
    generator = torch.Generator().manual_seed(seed)
    sequences = [list(p) for p in prompts]
    new: list[list[int]] = [[] for _ in prompts]
    done = [False] * len(prompts)
    for _ in range(max_new_tokens):
        active = [i for i in range(len(prompts)) if mode == "shuffled" or not done[i]]
        if all(done):
            break
        chosen, _ = next_tokens(model, head, tokens, [sequences[i] for i in active], mode,
                                temperature, generator, pad_id)
        for i, token in zip(active, chosen.tolist(), strict=True):
            if not done[i]:
                sequences[i].append(token)
                new[i].append(token)
                done[i] = token in stop_ids
    return new
