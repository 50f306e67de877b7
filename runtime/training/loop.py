"""The optimiser-step loop shared by training kernels.

The loop is deliberately small: it owns the learning-rate warm-up, gradient clipping
and the stop check between steps. Data (``batch_at``), checkpointing and metric names
belong to the caller, through callbacks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from runtime.utils.allocator import retain_freed_memory

Batch = tuple[torch.Tensor, torch.Tensor]  # (input_ids (B, T), labels (B, T))


@dataclass
class TrainReport:
    """What a run of :func:`train_steps` did.

    Attributes:
        completed: the step index reached (steps ``start_step .. completed-1`` ran).
        stopped: True when ``should_stop`` interrupted it before ``steps``.
        losses: the training loss of every step run here, in order.
    """

    completed: int
    stopped: bool = False
    losses: list[float] = field(default_factory=list)


def warmup_factor(step: int, warmup_steps: int) -> float:
    """Linear warm-up multiplier of the learning rate at (0-based) ``step``."""
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, (step + 1) / warmup_steps)


def lr_factor(step: int, warmup_steps: int, total_steps: int, min_ratio: float = 1.0) -> float:
    """Linear warm-up, then cosine decay from 1 to ``min_ratio`` at ``total_steps``.

    ``min_ratio = 1`` keeps the learning rate constant after warm-up. Short runs gain
    most from the decay: the last steps average out the noise of the first ones.
    """
    if step < warmup_steps:
        return warmup_factor(step, warmup_steps)
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _set_lr(optimizer: torch.optim.Optimizer, base_lrs: list[float], factor: float) -> float:
    for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
        group["lr"] = base * factor
    return optimizer.param_groups[0]["lr"]


def train_steps(model, optimizer: torch.optim.Optimizer, batch_at: Callable[[int], Batch],
                steps: int, *, start_step: int = 0, warmup_steps: int = 0,
                min_lr_ratio: float = 1.0, max_grad_norm: float = 1.0, device: str | torch.device = "cpu",
                should_stop: Callable[[], bool] = lambda: False,
                on_step: Callable[[int, dict], None] = lambda step, m: None,
                guard=None, on_safe_point: Callable[[int], None] | None = None) -> TrainReport:
    """Run optimiser steps ``start_step .. steps-1`` on a causal LM.

    The base learning rates are the optimiser's group lrs as configured; they are
    restored when the loop returns, so a resumed optimiser starts from the same state.

    Args:
        model: a causal LM whose forward takes ``input_ids``/``labels`` and returns ``.loss``.
        optimizer: its optimiser.
        batch_at: step index -> ``(input_ids, labels)``; must be deterministic so a
            resumed run sees the same batches.
        steps: total steps of the run (not steps left).
        start_step: where to continue from (a checkpoint's step).
        warmup_steps: linear learning-rate warm-up length.
        min_lr_ratio: cosine decay to this fraction of the lr at ``steps`` (1 = constant).
        max_grad_norm: global gradient-norm clip (0 = off).
        device: where batches go.
        should_stop: checked before every step; True ends the loop early.
        on_step: called after each step with its index and measured values
            (``loss``, ``lm_loss``, ``grad_norm``, ``lr``, and the model output's
            ``stats`` dict when it has one).
        guard: a ``DivergenceGuard`` over ``model`` and ``optimizer``, or None. After each
            step it judges the loss; on a rollback the base learning rates are lowered by
            its ``lr_factor`` too, so the schedule keeps the cooler rate.
        on_safe_point: called after each step (after ``on_step``) with the number of steps
            done, while the optimiser holds its base learning rates: the state it sees is
            what a run resumed from that step starts with (a periodic checkpoint saves it).

    Returns:
        A :class:`TrainReport`.
    """
    retain_freed_memory()  # a step's tensors reuse freed memory instead of faulting pages in
    base_lrs = [group.get("initial_lr", group["lr"]) for group in optimizer.param_groups]
    report = TrainReport(completed=start_step)
    model.train()
    try:
        for step in range(start_step, steps):
            if should_stop():
                report.stopped = True
                break
            lr = _set_lr(optimizer, base_lrs,
                         lr_factor(step, warmup_steps, steps, min_lr_ratio))
            input_ids, labels = (t.to(device) for t in batch_at(step))
            out = model(input_ids=input_ids, labels=labels)
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            norm = (torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
                    if max_grad_norm > 0 else torch.tensor(0.0))
            optimizer.step()
            loss = float(out.loss.detach())
            if guard is not None and not guard.check(loss, step):
                base_lrs = [b * guard.lr_factor for b in base_lrs]
            report.losses.append(loss)
            report.completed = step + 1
            lm = getattr(out, "lm_loss", None)
            on_step(step, {"loss": loss, "lm_loss": float(lm) if lm is not None else loss,
                           "grad_norm": float(norm), "lr": lr,
                           **(getattr(out, "stats", None) or {})})
            if on_safe_point is not None:
                _set_lr(optimizer, base_lrs, 1.0)
                on_safe_point(step + 1)
    finally:
        _set_lr(optimizer, base_lrs, 1.0)
    return report
