"""TRM recursion (Jolicoeur-Martineau, arXiv:2510.04871) over the block stack ``f``.

One supervision step runs ``T = n_cycles`` cycles; a cycle is ``n = n_latent_steps`` latent
updates ``z <- f(x + y + z)`` followed by one answer update ``y <- f(y + z)``. The first
``T - 1`` cycles run under ``torch.no_grad()``; only the last one builds a graph (the paper's
"1-step gradient" through the full last recursion). Deep supervision chains several steps,
carrying ``(y, z)`` detached between them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

StackFn = Callable[[torch.Tensor], torch.Tensor]


def latent_cycle(
    f: StackFn, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, n_latent_steps: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """One TRM cycle: ``n`` times ``z <- f(x + y + z)``, then ``y <- f(y + z)``; all (B, T, d)."""
    for _ in range(n_latent_steps):
        z = f(x + y + z)
    y = f(y + z)
    return y, z


def supervision_step(
    f: StackFn,
    x: torch.Tensor,
    y: torch.Tensor,
    z: torch.Tensor,
    n_latent_steps: int,
    n_cycles: int,
    track_grad: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_cycles`` cycles; gradients flow through the last one only (and only if ``track_grad``).

    Args:
        f: The block stack, (B, T, d) -> (B, T, d).
        x: ``(B, T, d)`` embedded input.
        y: ``(B, T, d)`` answer state.
        z: ``(B, T, d)`` latent state.
        n_latent_steps: TRM ``n``.
        n_cycles: TRM ``T``.
        track_grad: False runs every cycle without a graph (inference, non-final steps).

    Returns:
        The new ``(y, z)``.
    """
    with torch.no_grad():
        for _ in range(n_cycles - 1):
            y, z = latent_cycle(f, x, y, z, n_latent_steps)
    if not track_grad:
        with torch.no_grad():
            return latent_cycle(f, x, y, z, n_latent_steps)
    return latent_cycle(f, x, y, z, n_latent_steps)
