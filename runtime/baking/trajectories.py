"""Trajectories sampled from the prompted, frozen teacher, with its cached distributions.

For each query ``x`` the teacher sees ``u + " " + x`` (:func:`prompted`) and samples ``y``
at temperature 1; the student will see ``x`` followed by the same ``y``. The teacher's
log-probabilities ``log P(.|u, x, y_<t)`` at every generated position are computed once
here and cached: the teacher is the frozen base, so they never change during a bake.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from runtime.baking.forward import causal_logits, continuation_logits, encode, left_pad, pad_id


def prompted(prompt: str, query: str) -> str:
    """The teacher's text: the prompt, one space, the query (the query alone when the
    prompt is empty, so an empty prompt gives the teacher exactly the student's input)."""
    return f"{prompt} {query}" if prompt else query


@dataclass
class Trajectories:
    """Sampled trajectories, ready for the student, with the teacher's distributions.

    Attributes:
        student_ids: (N, S) left-padded student contexts (the queries, no prompt).
        student_mask: (N, S) 1 on real tokens.
        tokens: (N, L) the sampled continuations ``y``.
        counted: (N, L) 1 on tokens the loss counts: up to and including the first
            end-of-sequence token (what follows it is not part of the answer).
        teacher_logp: (N, L, V) float32 ``log P_teacher(.|u, x, y_<t)``.
    """

    student_ids: torch.Tensor
    student_mask: torch.Tensor
    tokens: torch.Tensor
    counted: torch.Tensor
    teacher_logp: torch.Tensor

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def rows(self, index: torch.Tensor | slice) -> Trajectories:
        """The trajectories at ``index`` (a slice or a (B,) index tensor)."""
        return Trajectories(self.student_ids[index], self.student_mask[index],
                            self.tokens[index], self.counted[index], self.teacher_logp[index])


def counted_tokens(tokens: torch.Tensor, eos_id: int | None) -> torch.Tensor:
    """(N, L) mask: 1 up to and including each row's first ``eos_id`` (all 1 without one)."""
    if eos_id is None:
        return torch.ones_like(tokens)
    is_eos = (tokens == eos_id).long()  # (N, L)
    before = is_eos.cumsum(-1) - is_eos  # (N, L) eos tokens strictly before t
    return (before == 0).long()


@torch.no_grad()
def _sample(model, ids: torch.Tensor, mask: torch.Tensor, length: int,
            generator: torch.Generator) -> torch.Tensor:
    """(B, L) tokens sampled at temperature 1 after left-padded contexts (B, T).

    No KV cache (the Cognate model has none): each token reruns the prefix. Draws happen
    on the CPU generator, so a seed gives the same tokens whatever the device.
    """
    out = ids.new_empty(ids.shape[0], 0)  # (B, 0)
    for _ in range(length):
        full = torch.cat([ids, out], dim=1)  # (B, T + t)
        full_mask = torch.cat([mask, torch.ones_like(out)], dim=1)
        logits = causal_logits(model, full, full_mask)[:, -1]  # (B, V)
        probs = torch.softmax(logits.float(), dim=-1).cpu()  # (B, V)
        token = torch.multinomial(probs, 1, generator=generator)  # (B, 1)
        out = torch.cat([out, token.to(ids.device)], dim=1)
    return out


@torch.no_grad()
def sample_trajectories(model, tokenizer, prompt: str, queries: Sequence[str], count: int,
                        length: int, *, device, seed: int, batch_size: int) -> Trajectories:
    """Sample ``count`` trajectories of ``length`` tokens from ``model`` prompted with ``prompt``.

    Args:
        model: the frozen teacher (the base model; put it in eval mode first).
        tokenizer: its tokenizer (``tokenizer(text).input_ids``, ``eos_token_id``).
        prompt: the prompt ``u`` baked in ('' = none).
        queries: the student's inputs ``x``; trajectory ``i`` uses ``queries[i % len]``.
        count: trajectories to sample.
        length: tokens per trajectory.
        device: where the model runs.
        seed: seeds the draws (deterministic on CPU).
        batch_size: trajectories per forward.

    Returns:
        :class:`Trajectories` (on ``device``).
    """
    if not queries:
        raise ValueError("baking needs at least one query")
    chosen = [queries[i % len(queries)] for i in range(count)]
    pad = pad_id(tokenizer)
    t_ids, t_mask = (t.to(device) for t in left_pad(encode(tokenizer, [prompted(prompt, q)
                                                                        for q in chosen]), pad))
    s_ids, s_mask = (t.to(device) for t in left_pad(encode(tokenizer, chosen), pad))
    generator = torch.Generator().manual_seed(seed)
    tokens, logps = [], []
    for start in range(0, count, batch_size):
        rows = slice(start, start + batch_size)
        y = _sample(model, t_ids[rows], t_mask[rows], length, generator)  # (B, L)
        logits = continuation_logits(model, t_ids[rows], t_mask[rows], y)  # (B, L, V)
        tokens.append(y)
        logps.append(F.log_softmax(logits.float(), dim=-1))
    y = torch.cat(tokens)  # (N, L)
    return Trajectories(s_ids, s_mask, y, counted_tokens(y, tokenizer.eos_token_id),
                        torch.cat(logps))  # teacher_logp (N, L, V)
