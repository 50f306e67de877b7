"""Per-supervision-step losses: next-token cross-entropy and the TRM halting BCE."""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def shift_labels(labels: torch.Tensor) -> torch.Tensor:
    """Targets aligned with logits: position ``t`` predicts ``labels[t + 1]``; last is ignored."""
    pad = labels.new_full((labels.shape[0], 1), IGNORE_INDEX)
    return torch.cat([labels[:, 1:], pad], dim=1)  # (B, T)


def pooled(h: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean of ``h (B, T, d)`` over positions with ``weights (B, T)`` = 1 -> (B, d)."""
    w = weights.to(h.dtype)[..., None]  # (B, T, 1)
    return (h * w).sum(1) / w.sum(1).clamp_min(1.0)


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over targets that are not IGNORE_INDEX; logits (B, T, V), targets (B, T)."""
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=IGNORE_INDEX
    )


def exactly_correct(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(B,) float: 1 where the greedy prediction matches every supervised target of the sequence."""
    valid = targets != IGNORE_INDEX  # (B, T)
    hit = (logits.argmax(-1) == targets) | ~valid
    return hit.all(dim=1).to(logits.dtype)


def halting_loss(halt_logit: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """BCE of the halting head against "the prediction is exactly correct" (the target has no grad)."""
    correct = exactly_correct(logits.detach(), targets)  # (B,)
    return F.binary_cross_entropy_with_logits(halt_logit.float(), correct.float())
