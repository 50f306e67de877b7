"""Training the adapters: the optimiser and the step loop of one bake.

Optimiser (our choice, kept simple): AdamW (betas 0.9/0.999, no weight decay) on the
adapter parameters at ``lr``; a phase that passes its MuGrokfast settings gets MuGrokfast
instead (every LoRA factor is a 2-D matrix, so all of them go to Muon; QK-Clip is off,
since the factors are not query/key weights).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from runtime.baking.kl import trajectory_kl
from runtime.baking.lora import Adapters
from runtime.baking.trajectories import Trajectories

DEFAULT_LR = 1e-3  # LoRA's usual range is 1e-4..1e-3; tiny models bake in tens of steps at 1e-3
MAX_GRAD_NORM = 1.0  # the training loop's clip (runtime.training.loop)

Progress = Callable[[int, dict], None]


def make_optimizer(adapters: Adapters, lr: float,
                   mugrokfast: Mapping | None = None) -> torch.optim.Optimizer:
    """AdamW on the adapters at ``lr``, or MuGrokfast from a settings dict when given."""
    if mugrokfast is None:
        return torch.optim.AdamW(adapters.parameters(), lr=lr, weight_decay=0.0)
    from runtime.optim import MuGrokfast, MuGrokfastConfig

    config = MuGrokfastConfig.from_dict({**dict(mugrokfast), "qk_clip_tau": 0.0})
    return MuGrokfast(adapters.named_parameters(), config, qk_clip_targets=[])


def batch_order(count: int, batch_size: int, steps: int, seed: int) -> list[torch.Tensor]:
    """Row indices of every step's batch: seeded epochs (permutations) read in order."""
    generator = torch.Generator().manual_seed(seed)
    order: list[int] = []
    need = steps * batch_size
    while len(order) < need:
        order += torch.randperm(count, generator=generator).tolist()
    return [torch.tensor(order[i * batch_size:(i + 1) * batch_size]) for i in range(steps)]


def train_adapters(model, adapters: Adapters, trajectories: Trajectories, *, steps: int,
                   batch_size: int, seed: int, optimizer: torch.optim.Optimizer,
                   progress: Progress | None = None) -> list[float]:
    """Run ``steps`` optimiser steps minimising the mean KL of batches of ``trajectories``.

    Returns:
        The loss (mean KL of the batch, before its step) of every step.
    """
    params = adapters.parameters()
    losses = []
    for step, rows in enumerate(batch_order(len(trajectories), batch_size, steps, seed)):
        batch = trajectories.rows(rows.to(trajectories.tokens.device))
        loss = trajectory_kl(model, batch).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
        optimizer.step()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(step, {"kl": losses[-1], "grad_norm": float(norm)})
    return losses
