"""Scores of episodes under prompts: one batched evaluation for many groups of episodes.

A group is a list of examples, e.g. the held-out persona episodes with one persona
prepended (``with_prompt``); ``group_scores`` evaluates every group in one call of the
evaluation harness (greedy answers, calculator tool calls executed) so equal-length
prompts of different groups share ``generate()`` calls, and scores each with its family's
scorer (exact match for a user's JSONL lines).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from runtime.baking.trajectories import prompted
from runtime.data.example import Example
from runtime.data.tokens import RESULT_OPEN
from runtime.eval import evaluate
from runtime.eval.harness import EvalRecord


def with_prompt(prompt: str, examples: Sequence[Example]) -> list[Example]:
    """``examples`` with ``prompt`` before each prompt, as the baking teacher saw it
    (``runtime.baking.prompted``: prompt, one space, the example's prompt)."""
    return [replace(ex, prompt=prompted(prompt, ex.prompt)) for ex in examples]


def group_scores(model, tokenizer, groups: Sequence[Sequence[Example]], eval_cfg,
                 device) -> list[tuple[float, list[EvalRecord]]]:
    """Each group's accuracy (fraction scored correct) and its records, in group order.

    Args:
        model: the causal LM.
        tokenizer: its tokenizer.
        groups: non-empty lists of examples.
        eval_cfg: the phase's ``EvalConfig`` (``max_new_tokens``, ``batch_size``).
        device: where the model runs.
    """
    if not groups or any(not group for group in groups):
        raise ValueError("group_scores needs non-empty groups of examples")
    flat = [ex for group in groups for ex in group]
    records = evaluate(model, tokenizer, flat, max_new_tokens=eval_cfg.max_new_tokens,
                       batch_size=eval_cfg.batch_size, device=device).records
    out, start = [], 0
    for group in groups:
        part = records[start:start + len(group)]
        out.append((sum(r.correct for r in part) / len(part), part))
        start += len(group)
    return out


def tool_statistics(records: Sequence[EvalRecord]) -> dict[str, float]:
    """How the model used the calculator in ``records``.

    Returns:
        ``calls`` (executed calls per episode), ``call_rate`` (episodes with at least one
        call) and, when there was a call, ``valid`` (calls the calculator answered without
        an error: well-formed ``calc(...)`` arithmetic).
    """
    calls = sum(r.tool_calls for r in records)
    stats = {"calls": calls / len(records),
             "call_rate": sum(r.tool_calls > 0 for r in records) / len(records)}
    if calls:
        results = [part for r in records for part in r.transcript.split(RESULT_OPEN)[1:]]
        stats["valid"] = sum(not part.startswith("error") for part in results) / len(results)
    return stats
