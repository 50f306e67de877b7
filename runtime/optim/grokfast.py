"""Grokfast gradient filters (Lee, Kang, Kim, Lee, arXiv:2405.20233).

Both filters amplify the slow (low-frequency) component of each parameter's gradient
and run between ``loss.backward()`` and ``optimizer.step()``. The optimiser receives
g + λ·slow(g); a filter that added λ(g − slow(g)) would amplify the fast component and
is the opposite of the method.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import torch
from torch import nn

# Paper defaults.
EMA_ALPHA = 0.98  # EMA momentum: the filter's time constant is about 1/(1-α) = 50 steps
EMA_LAMBDA = 2.0  # amplification of the slow component
MA_WINDOW = 100  # moving-average window
MA_LAMBDA = 5.0

NamedTensors = Iterable[tuple[str, torch.Tensor]]


def ema_filter_(grad: torch.Tensor, mu: torch.Tensor | None, alpha: float,
                lamb: float) -> torch.Tensor:
    """Update the EMA μ ← αμ + (1−α)g and add λμ to ``grad`` in place.

    Args:
        grad: the gradient g, modified in place to g + λμ.
        mu: the running average, or None on the first call (μ then starts at g).
        alpha: EMA momentum α.
        lamb: amplification λ.

    Returns:
        The updated μ (a new tensor on the first call, ``mu`` itself afterwards).
    """
    return ema_filter_many_([grad], [mu], alpha, lamb)[0]


def ema_filter_many_(grads: list[torch.Tensor], mus: list[torch.Tensor | None], alpha: float,
                     lamb: float) -> list[torch.Tensor]:
    """:func:`ema_filter_` for many gradients at once, with ``torch._foreach`` ops.

    A model's gradients are many small tensors, where the per-call cost of one op per tensor
    outweighs the arithmetic; the foreach ops do each step for all of them in one call, with
    the same results. Returns the updated averages, in order.
    """
    running = [i for i, mu in enumerate(mus) if mu is not None]
    if running:
        old = [mus[i] for i in running]
        torch._foreach_mul_(old, alpha)
        torch._foreach_add_(old, [grads[i] for i in running], alpha=1.0 - alpha)
    mus = [g.detach().clone() if mu is None else mu for g, mu in zip(grads, mus, strict=True)]
    torch._foreach_add_(grads, mus, alpha=lamb)
    return mus


def _named(params: nn.Module | NamedTensors) -> NamedTensors:
    """Accept a module or (name, tensor) pairs."""
    return params.named_parameters() if isinstance(params, nn.Module) else params


class GrokfastEMA:
    """The Grokfast-EMA filter, keyed by parameter name so its state can be checkpointed.

    Example:
        >>> grokfast = GrokfastEMA(alpha=0.98, lamb=2.0)
        >>> loss.backward(); grokfast.apply(model); optimizer.step()
    """

    def __init__(self, alpha: float = EMA_ALPHA, lamb: float = EMA_LAMBDA) -> None:
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"grokfast alpha must be in [0, 1), got {alpha}")
        self.alpha = alpha
        self.lamb = lamb
        self.mu: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def apply(self, params: nn.Module | NamedTensors) -> None:
        """Filter every ``.grad`` in place; parameters without a gradient are skipped.

        Args:
            params: a module, or (name, parameter) pairs such as ``model.named_parameters()``.
        """
        for name, p in _named(params):
            if p.grad is not None:
                self.mu[name] = ema_filter_(p.grad, self.mu.get(name), self.alpha, self.lamb)

    def state_dict(self) -> dict:
        """The filter's hyper-parameters and averages (tensors are cloned)."""
        return {"alpha": self.alpha, "lamb": self.lamb,
                "mu": {k: v.clone() for k, v in self.mu.items()}}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.alpha, self.lamb = state["alpha"], state["lamb"]
        self.mu = {k: v.clone() for k, v in state["mu"].items()}


class GrokfastMA:
    """The Grokfast-MA filter: g + λ·mean(last w gradients), once w gradients are held.

    Costs w gradient copies per parameter, which is why the EMA variant is the default.
    """

    def __init__(self, window: int = MA_WINDOW, lamb: float = MA_LAMBDA) -> None:
        if window < 1:
            raise ValueError(f"grokfast window must be >= 1, got {window}")
        self.window = window
        self.lamb = lamb
        self.history: dict[str, deque[torch.Tensor]] = {}

    @torch.no_grad()
    def apply(self, params: nn.Module | NamedTensors) -> None:
        """Record each gradient, then amplify it by the window mean when the window is full."""
        for name, p in _named(params):
            if p.grad is None:
                continue
            held = self.history.setdefault(name, deque(maxlen=self.window))
            held.append(p.grad.detach().clone())
            if len(held) == self.window:
                mean = torch.stack(tuple(held)).mean(dim=0)  # same shape as p
                p.grad.add_(mean, alpha=self.lamb)

    def state_dict(self) -> dict:
        """The window, λ and the held gradients (cloned)."""
        return {"window": self.window, "lamb": self.lamb,
                "history": {k: [g.clone() for g in v] for k, v in self.history.items()}}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.window, self.lamb = state["window"], state["lamb"]
        self.history = {k: deque((g.clone() for g in v), maxlen=self.window)
                        for k, v in state["history"].items()}
