"""Muon: momentum + Newton–Schulz orthogonalised updates for 2-D hidden weights.

Reference: K. Jordan et al., "Muon: an optimizer for hidden layers" (2024); the
"moonlight" scale is from "Muon is Scalable for LLM Training" (arXiv:2502.16982).
Embeddings, the LM head, norms' gains and biases belong to AdamW, not Muon.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from runtime.optim.newton_schulz import NS_STEPS, orthogonalize
from runtime.optim.newton_schulz import ns_dtype as resolve_ns_dtype

# Defaults, from the Muon reference implementation.
MUON_LR = 0.02  # reference lr for the "jordan" scale
MUON_MOMENTUM = 0.95
MUON_SCALES = ("jordan", "moonlight")


def update_scale(rows: int, cols: int, variant: str = "jordan") -> float:
    """The factor that multiplies the orthogonalised update O of a (rows, cols) matrix.

    Args:
        rows: output dimension (``nn.Linear.weight`` is (out, in)).
        cols: input dimension.
        variant: ``"jordan"`` = sqrt(max(1, rows/cols)), Muon's own choice (reference lr
            0.02); ``"moonlight"`` = 0.2·sqrt(max(rows, cols)), which matches AdamW's
            update RMS so AdamW's lr and weight decay can be reused.
    """
    if variant == "jordan":
        return math.sqrt(max(1.0, rows / cols))
    if variant == "moonlight":
        return 0.2 * math.sqrt(max(rows, cols))
    raise ValueError(f"unknown Muon scale {variant!r}; expected one of {MUON_SCALES}")


@torch.no_grad()
def muon_update_(param: torch.Tensor, grad: torch.Tensor, momentum_buffer: torch.Tensor, *,
                 lr: float, momentum: float, nesterov: bool, ns_steps: int,
                 weight_decay: float, scale: str) -> None:
    """One Muon step on ``param`` in place.

    m ← βm + (1−β)g; u = (1−β)g + βm with Nesterov, else u = m; O = NS(u)·scale;
    W ← W(1 − lr·wd) − lr·O. Tensors with more than 2 dims (e.g. conv kernels) are
    orthogonalised as (shape[0], prod(rest)).
    """
    u2d = momentum_direction_(grad, momentum_buffer, momentum, nesterov)
    apply_orthogonal_(param, orthogonalize(u2d, steps=ns_steps), lr=lr,
                      weight_decay=weight_decay, scale=scale)


@torch.no_grad()
def muon_group_update_(params: list[torch.Tensor], states, group: dict) -> None:
    """One Muon step for every param of a group, Newton–Schulz batched by matrix shape.

    Stacking same-shaped matrices turns dozens of small matmuls into a few batched ones,
    and the element-wise parts (momentum, the weight update) run as ``torch._foreach`` ops
    over all params (per-call overhead dominates at small sizes); each matrix's result is
    what orthogonalising it alone gives.

    Args:
        params: the group's params that have a gradient.
        states: the optimiser's per-param state (``momentum_buffer`` is kept there).
        group: lr, momentum, nesterov, ns_steps, ns_dtype, weight_decay, scale.
    """
    grads = [p.grad for p in params]
    buffers = []
    for p in params:
        if "momentum_buffer" not in states[p]:
            states[p]["momentum_buffer"] = torch.zeros_like(p.grad)
        buffers.append(states[p]["momentum_buffer"])
    directions = momentum_directions_(grads, buffers, group["momentum"], group["nesterov"])
    buckets: dict[tuple, list] = {}
    for p, u in zip(params, directions, strict=True):
        u2d = u.reshape(u.size(0), -1)
        tall = u2d.size(0) > u2d.size(1)  # NS(u^T) = NS(u)^T: tall and wide ones share a batch
        wide = u2d.mT if tall else u2d
        buckets.setdefault((tuple(wide.shape), wide.dtype), []).append((p, wide, tall))
    torch._foreach_mul_(params, 1.0 - group["lr"] * group["weight_decay"])
    for items in buckets.values():
        stacked = torch.stack([u for _, u, _ in items])  # (n, rows, cols), rows <= cols
        dtype = resolve_ns_dtype(group["ns_dtype"], stacked.device)
        ortho = orthogonalize(stacked, steps=group["ns_steps"], dtype=dtype)
        rows, cols = ortho.shape[-2:]
        scales = [update_scale(cols, rows, group["scale"]) if tall
                  else update_scale(rows, cols, group["scale"]) for _, _, tall in items]
        ortho = ortho * ortho.new_tensor(scales)[:, None, None]  # (n, rows, cols)
        updates = [(o.mT if tall else o).reshape(p.shape).to(p.dtype)
                   for (p, _, tall), o in zip(items, ortho, strict=True)]
        torch._foreach_add_([p for p, _, _ in items], updates, alpha=-group["lr"])


def momentum_directions_(grads: list[torch.Tensor], buffers: list[torch.Tensor],
                         momentum: float, nesterov: bool) -> list[torch.Tensor]:
    """:func:`momentum_direction_` for many tensors (foreach ops); directions keep the
    gradients' shapes."""
    torch._foreach_lerp_(buffers, grads, 1.0 - momentum)  # m <- beta m + (1 - beta) g
    return torch._foreach_lerp(grads, buffers, momentum) if nesterov else list(buffers)


def momentum_direction_(grad: torch.Tensor, momentum_buffer: torch.Tensor, momentum: float,
                        nesterov: bool) -> torch.Tensor:
    """Update the momentum in place; return the direction to orthogonalise, (rows, cols)."""
    momentum_buffer.lerp_(grad, 1.0 - momentum)  # m ← βm + (1−β)g
    u = grad.lerp(momentum_buffer, momentum) if nesterov else momentum_buffer
    return u.reshape(u.size(0), -1)


def apply_orthogonal_(param: torch.Tensor, ortho: torch.Tensor, *, lr: float,
                      weight_decay: float, scale: str) -> None:
    """W ← W(1 − lr·wd) − lr·scale·O for an orthogonalised direction O (rows, cols)."""
    ortho = ortho * update_scale(ortho.size(0), ortho.size(1), scale)
    param.mul_(1.0 - lr * weight_decay)
    param.add_(ortho.view_as(param).to(param.dtype), alpha=-lr)


class Muon(torch.optim.Optimizer):
    """Muon for 2-D hidden weight matrices (use :class:`MuGrokfast` to mix with AdamW).

    Args:
        params: the hidden weight matrices (each with at least 2 dims).
        lr: learning rate (0.02 is the reference for the "jordan" scale).
        momentum: β of the momentum buffer.
        nesterov: use the Nesterov look-ahead u = (1−β)g + βm.
        ns_steps: Newton–Schulz iterations.
        weight_decay: decoupled weight decay.
        scale: ``"jordan"`` or ``"moonlight"``, see :func:`update_scale`.
        ns_dtype: precision of Newton–Schulz: ``"auto"``, ``"float32"`` or ``"bfloat16"``
            (see :func:`runtime.optim.newton_schulz.ns_dtype`).
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float = MUON_LR,
                 momentum: float = MUON_MOMENTUM, nesterov: bool = True,
                 ns_steps: int = NS_STEPS, weight_decay: float = 0.0,
                 scale: str = "jordan", ns_dtype: str = "auto") -> None:
        update_scale(1, 1, scale)  # validates the name early
        resolve_ns_dtype(ns_dtype, "cpu")  # validates the setting early
        defaults = dict(lr=lr, momentum=momentum, nesterov=nesterov, ns_steps=ns_steps,
                        weight_decay=weight_decay, scale=scale, ns_dtype=ns_dtype)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim < 2:
                    raise ValueError(
                        f"Muon only takes matrices; got a {p.ndim}-D tensor of shape "
                        f"{tuple(p.shape)} (route it to AdamW)")

    @torch.no_grad()
    def step(self, closure=None):
        """Apply one Muon update to every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            muon_group_update_([p for p in group["params"] if p.grad is not None],
                               self.state, group)
        return loss
