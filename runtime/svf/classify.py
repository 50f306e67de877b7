"""Prompt classification: the model itself picks the skill (domain) of a prompt.

Transformer²'s first adaptation strategy (arXiv:2501.06252, §3.2): the base model is
asked which category a prompt belongs to, and the answer selects the expert. Our
classification prompt numbers the skills and the model's choice is the number it ranks
highest as the next token (one forward pass for every prompt; no free-form decoding,
which a tiny model would not end on a category name)::

    Which skill does this task need? 1 arithmetic 2 word_problems ...
    Task: <prompt>
    Skill:
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

MAX_CHOICES = 9  # one digit token per choice


def classification_prompt(prompt: str, skills: Sequence[str]) -> str:
    """The text the model completes with the number of ``prompt``'s skill."""
    menu = " ".join(f"{i + 1} {skill}" for i, skill in enumerate(skills))
    return f"Which skill does this task need? {menu}\nTask: {prompt}\nSkill:"


def choice_ids(tokenizer, n: int) -> list[int]:
    """Token ids of the answers ``1`` .. ``n``.

    Raises:
        ValueError: more than ``MAX_CHOICES`` skills, or a digit that is not one token.
    """
    if not 1 <= n <= MAX_CHOICES:
        raise ValueError(f"classification chooses among 1..{MAX_CHOICES} skills, got {n}")
    ids = []
    for i in range(1, n + 1):
        tokens = tokenizer(f" {i}", add_special_tokens=False)["input_ids"]
        tokens = [t for t in tokens if tokenizer.decode([t]).strip()] or tokens
        if len(tokens) != 1:
            raise ValueError(f"the tokenizer writes the choice {i} as {len(tokens)} tokens")
        ids.append(tokens[0])
    return ids


@torch.no_grad()
def classify(model, tokenizer, prompts: Sequence[str], skills: Sequence[str],
             batch_size: int) -> list[str]:
    """The skill the model picks for each prompt (its highest-ranked choice number)."""
    choices = torch.tensor(choice_ids(tokenizer, len(skills)))  # (S,)
    device = next(model.parameters()).device
    rows = [tokenizer(classification_prompt(p, skills))["input_ids"] for p in prompts]
    picked: list[str] = []
    for start in range(0, len(rows), batch_size):
        batch = rows[start: start + batch_size]
        lengths = torch.tensor([len(r) for r in batch])  # (B,)
        ids = torch.full((len(batch), int(lengths.max())), tokenizer.pad_token_id)  # (B, T)
        for i, row in enumerate(batch):
            ids[i, : len(row)] = torch.tensor(row)
        logits = model(input_ids=ids.to(device)).logits.cpu()  # (B, T, V)
        last = logits[torch.arange(len(batch)), lengths - 1]  # (B, V): right padding unseen
        picked += [skills[int(k)] for k in last[:, choices].argmax(-1)]
    return picked


def classification_accuracy(picked: Sequence[str], truth: Sequence[str]) -> float:
    """Share of prompts whose picked skill is their true one."""
    return sum(p == t for p, t in zip(picked, truth, strict=True)) / max(1, len(truth))
