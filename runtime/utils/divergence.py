"""Divergence guard: NaN/inf or a loss spike rolls training back to the last good state.

On divergence the guard restores the last good model and optimiser state, multiplies
every learning rate by ``lr_factor``, records an event, and after ``max_retries``
rollbacks gives up with ``DivergenceError``.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from collections.abc import Callable

import torch


def _median(values) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


class DivergenceError(RuntimeError):
    """Training kept diverging after every allowed rollback."""


class DivergenceGuard:
    """Watch the training loss; roll back and cool the learning rate when it diverges.

    A loss is divergent when it is NaN/inf, or above ``spike_factor`` times the median of
    the last ``window`` healthy losses (once ``min_history`` of them are known). The last
    good state is refreshed every ``snapshot_every`` healthy steps whose loss is at or
    below that median, so a slow climb before a spike is never kept as "good".

    Args:
        model: the module being trained.
        optimizer: its optimiser; its ``param_groups[*]["lr"]`` are lowered on rollback.
        max_retries: rollbacks allowed before ``DivergenceError``.
        lr_factor: learning-rate multiplier applied at each rollback.
        spike_factor: how many times the recent median counts as a spike.
        window: how many healthy losses the median looks at.
        min_history: healthy losses needed before spikes are judged.
        snapshot_every: keep a new good state every this many healthy steps.
        on_event: called with a dict for each rollback (the kernel logs it).
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 max_retries: int = 3, lr_factor: float = 0.5, spike_factor: float = 10.0,
                 window: int = 20, min_history: int = 5, snapshot_every: int = 10,
                 on_event: Callable[[dict], None] | None = None):
        self.model, self.optimizer = model, optimizer
        self.max_retries, self.lr_factor, self.spike_factor = max_retries, lr_factor, spike_factor
        self.min_history, self.snapshot_every = min_history, snapshot_every
        self.on_event = on_event
        self.history: deque[float] = deque(maxlen=window)
        self.retries = 0
        self.events: list[dict] = []
        self._healthy_steps = 0
        self._good_step = 0
        self.snapshot(step=0)

    def snapshot(self, step: int) -> None:
        """Keep the current model and optimiser state as the last good one."""
        self._good = (copy.deepcopy(self.model.state_dict()),
                      copy.deepcopy(self.optimizer.state_dict()))
        self._good_step = step

    def is_divergent(self, loss: float) -> str | None:
        """Why ``loss`` counts as divergent, or None when it is healthy."""
        if not math.isfinite(loss):
            return f"loss is {loss}"
        if len(self.history) >= self.min_history:
            median = _median(self.history)
            if median > 0 and loss > self.spike_factor * median:
                return f"loss {loss:.4g} > {self.spike_factor:g} x recent median {median:.4g}"
        return None

    def check(self, loss: float | torch.Tensor, step: int) -> bool:
        """Judge the loss of ``step``; True when healthy, False after a rollback.

        Raises:
            DivergenceError: divergent again after ``max_retries`` rollbacks.
        """
        value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
        reason = self.is_divergent(value)
        if reason is None:
            # a state only counts as "good" when its loss is not above the recent median:
            # a slowly rising loss is not yet a spike, but it is no state to return to
            improving = not self.history or value <= _median(self.history)
            self.history.append(value)
            self._healthy_steps += 1
            if self._healthy_steps % self.snapshot_every == 0 and improving:
                self.snapshot(step)
            return True
        if self.retries >= self.max_retries:
            raise DivergenceError(f"training diverged at step {step} ({reason}) after "
                                  f"{self.retries} rollbacks with lower learning rates; "
                                  "lower the learning rate or check the data")
        self._rollback(step, reason)
        return False

    def _rollback(self, step: int, reason: str) -> None:
        current_lrs = [g["lr"] for g in self.optimizer.param_groups]
        model_state, optim_state = self._good
        self.model.load_state_dict(model_state)
        self.optimizer.load_state_dict(optim_state)  # this restores the snapshot's lr too
        for group, lr in zip(self.optimizer.param_groups, current_lrs, strict=True):
            group["lr"] = lr * self.lr_factor
        self.retries += 1
        event = {"type": "divergence_rollback", "step": step, "reason": reason,
                 "restored_step": self._good_step, "retry": self.retries,
                 "lr": [g["lr"] for g in self.optimizer.param_groups]}
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)
