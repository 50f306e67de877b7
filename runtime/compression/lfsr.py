"""Linear-feedback shift registers: SeedLM's pseudo-random bases from a K-bit seed.

A Fibonacci LFSR of K bits with the taps of a primitive polynomial visits every non-zero
state once before it repeats: its period is 2^K - 1 (tested). Seed s is a non-zero
state; the C x P basis of seed s is the C * P states that follow it, each mapped to
[-1, 1) as (state - 2^(K-1)) / 2^(K-1) (SeedLM, arXiv:2410.10714, uses the same map).

The whole orbit is generated once per K (cached), so the bases of all 2^K - 1 seeds are
windows of one sequence: searching every seed is a gather, not 2^K register runs.
"""

from __future__ import annotations

import functools

import torch

# Tap positions (1-based, K first) of primitive polynomials, from Xilinx XAPP052.
TAPS: dict[int, tuple[int, ...]] = {
    4: (4, 3), 5: (5, 3), 6: (6, 5), 7: (7, 6), 8: (8, 6, 5, 4), 9: (9, 5), 10: (10, 7),
    11: (11, 9), 12: (12, 6, 4, 1), 13: (13, 4, 3, 1), 14: (14, 5, 3, 1), 15: (15, 14),
    16: (16, 15, 13, 4), 17: (17, 14), 18: (18, 11), 19: (19, 6, 2, 1), 20: (20, 17),
    21: (21, 19), 22: (22, 21), 23: (23, 18), 24: (24, 23, 22, 17),
}


def step(state: int, bits: int) -> int:
    """The state after ``state`` (shift left, feedback bit = XOR of the taps)."""
    feedback = 0
    for tap in TAPS[bits]:
        feedback ^= (state >> (tap - 1)) & 1
    return ((state << 1) | feedback) & ((1 << bits) - 1)


@functools.lru_cache(maxsize=4)
def orbit(bits: int) -> torch.Tensor:
    """The 2^K - 1 states visited from state 1, in order, int64 (period 2^K - 1).

    Raises:
        ValueError: no taps known for ``bits``.
    """
    if bits not in TAPS:
        raise ValueError(f"LFSR seeds of {bits} bits are not supported (4..24)")
    states, state = [], 1
    for _ in range((1 << bits) - 1):
        states.append(state)
        state = step(state, bits)
    return torch.tensor(states, dtype=torch.int64)


@functools.lru_cache(maxsize=4)
def positions(bits: int) -> torch.Tensor:
    """``positions(K)[s]``: where state s sits in ``orbit(K)`` (-1 for the zero state)."""
    where = torch.full((1 << bits,), -1, dtype=torch.int64)
    where[orbit(bits)] = torch.arange((1 << bits) - 1)
    return where


def states_from(seed: int, count: int, bits: int) -> torch.Tensor:
    """``count`` successive states from ``seed`` on (the register run step by step)."""
    out, state = [], seed
    for _ in range(count):
        out.append(state)
        state = step(state, bits)
    return torch.tensor(out, dtype=torch.int64)


def to_values(states: torch.Tensor, bits: int) -> torch.Tensor:
    """States -> float32 values in [-1, 1)."""
    half = float(1 << (bits - 1))
    return (states.float() - half) / half


def bases_at(start: int, stop: int, bits: int, block: int,
             latent: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(seeds (S,), bases (S, C, P)) of the seeds at orbit positions [start, stop)."""
    states = orbit(bits)  # (2^K - 1,)
    where = torch.arange(start, min(stop, states.numel()))  # (S,)
    window = (where.unsqueeze(1) + torch.arange(block * latent)) % states.numel()  # (S, C*P)
    return states[where], to_values(states[window], bits).view(-1, block, latent)


def basis(seed: torch.Tensor, bits: int, block: int, latent: int) -> torch.Tensor:
    """The (n, C, P) bases of ``seed`` (n,) states, gathered from the orbit."""
    states = orbit(bits)
    start = positions(bits)[seed]  # (n,)
    if bool((start < 0).any()):
        raise ValueError("an LFSR seed must be a non-zero state")
    window = (start.unsqueeze(1) + torch.arange(block * latent)) % states.numel()  # (n, C*P)
    return to_values(states[window], bits).view(-1, block, latent)
