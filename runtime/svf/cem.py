"""The cross-entropy method over expert-mixing weights (Transformer²'s few-shot adaptation).

Each iteration samples ``population`` weight vectors from a Gaussian clipped to [0, 1],
scores them on a few held-out questions, and refits the mean and standard deviation to
the elite (the best ``elite_fraction``; ties keep sampling order). The paper's settings:
population 32, elite 20%, ~10 examples. Our choices: the first mean is 1/K for each of
K experts and the first standard deviation 0.3; the deviation never falls below 0.02, so
the search keeps exploring.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from runtime.svf.evaluations import Candidate, Result

INITIAL_STD = 0.3
MIN_STD = 0.02


@dataclass(frozen=True)
class CemSettings:
    """``population`` samples per iteration, ``elite_fraction`` kept, ``iterations``."""

    population: int
    elite_fraction: float
    iterations: int
    seed: int


@dataclass(frozen=True)
class CemResult:
    """The best sample seen, its score, the final mean, and the best score per iteration."""

    best: list[float]
    best_score: float
    mean: list[float]
    history: list[float]


def cem(evaluate: Callable[[list[Candidate]], list[Result]], n_experts: int,
        settings: CemSettings, key: str = "accuracy",
        on_iteration: Callable[[int, float], None] = lambda i, s: None) -> CemResult:
    """Maximise ``result[key]`` over mixing weights in [0, 1]^K.

    Args:
        evaluate: candidates -> results (one batch per iteration; replayed on resume).
        n_experts: K.
        settings: population, elite share, iterations, seed.
        key: the result entry maximised.
        on_iteration: hears (iteration, best score of the iteration).
    """
    rng = np.random.default_rng(settings.seed)
    mean = np.full(n_experts, 1.0 / n_experts)
    std = np.full(n_experts, INITIAL_STD)
    n_elite = max(1, math.ceil(settings.elite_fraction * settings.population))
    best, best_score, history = mean.tolist(), -math.inf, []
    for it in range(settings.iterations):
        samples = np.clip(rng.normal(mean, std, size=(settings.population, n_experts)), 0, 1)
        scores = np.array([r[key] for r in evaluate(samples.tolist())])
        order = np.argsort(-scores, kind="stable")  # (P,) best first, ties in sampling order
        elite = samples[order[:n_elite]]  # (E, K)
        mean, std = elite.mean(0), np.maximum(elite.std(0), MIN_STD)
        if scores[order[0]] > best_score:
            best, best_score = samples[order[0]].tolist(), float(scores[order[0]])
        history.append(float(scores[order[0]]))
        on_iteration(it, history[-1])
    return CemResult(best, best_score, mean.tolist(), history)
