"""The baking loss: token-level KL(P_teacher(.|u, x, y_<t) || P_student(.|x, y_<t)).

Summed over the vocabulary at each generated position, averaged over a trajectory's
counted tokens (:attr:`Trajectories.counted`), then over trajectories. The direction is
the paper's (Bhargava et al., arXiv:2409.13697): the teacher's distribution weights the
log-ratio, so the student is pushed to cover what the prompted model would say.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from runtime.baking.forward import continuation_logits
from runtime.baking.trajectories import Trajectories


def token_kl(teacher_logp: torch.Tensor, student_logits: torch.Tensor,
             counted: torch.Tensor) -> torch.Tensor:
    """Per-trajectory mean KL (B,) from the teacher's log-probs (B, L, V), the student's
    logits (B, L, V) and the counted-token mask (B, L)."""
    student_logp = F.log_softmax(student_logits.float(), dim=-1)  # (B, L, V)
    per_token = (teacher_logp.exp() * (teacher_logp - student_logp)).sum(-1)  # (B, L)
    weights = counted.to(per_token.dtype)  # (B, L)
    return (per_token * weights).sum(-1) / weights.sum(-1).clamp_min(1.0)  # (B,)


def trajectory_kl(model, batch: Trajectories) -> torch.Tensor:
    """Per-trajectory KL (B,) of ``model`` (the student, no prompt) on ``batch``; keeps the
    graph when grad is enabled."""
    logits = continuation_logits(model, batch.student_ids, batch.student_mask,
                                 batch.tokens)  # (B, L, V)
    return token_kl(batch.teacher_logp, logits, batch.counted)


@torch.no_grad()
def mean_kl(model, trajectories: Trajectories, batch_size: int) -> float:
    """Mean per-trajectory KL of ``model`` over all ``trajectories``, in consecutive batches
    of ``batch_size`` (the batches the teacher's distributions were computed in)."""
    total = 0.0
    for start in range(0, len(trajectories), batch_size):
        batch = trajectories.rows(slice(start, start + batch_size))
        total += float(trajectory_kl(model, batch).sum())
    return total / len(trajectories)
