"""Measuring one expert mix: the callable an executor maps over candidate mixes.

``MixEvaluator`` holds its own copy of the model, the target matrices' SVD, the experts'
z vectors and the encoded questions, so an executor can ship it to other processes once
(Ray: ``ray.put``). A candidate is a list of mixing weights, one per expert; a weight
below ``ACTIVE`` counts as that expert left out (it is set to 0).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from runtime.svf.decompose import Factors, load_weights, mix, weights_for
from runtime.svf.scoring import greedy_matches

ACTIVE = 0.05  # mixing weights below this leave their expert out (our choice)


def active_weights(alphas: Sequence[float]) -> list[float]:
    """The weights as applied: those below ``ACTIVE`` are 0."""
    return [float(a) if a >= ACTIVE else 0.0 for a in alphas]


@dataclass
class MixEvaluator:
    """``alphas -> {accuracy, other_accuracy, experts[, latency]}``, measured.

    Attributes:
        model: a float causal LM owned by the evaluator (its target weights are rewritten).
        factors: the base's SVD of every target matrix.
        experts: each expert's z vectors.
        domain: encoded ``(input_ids, labels)`` of questions of the experts' skills.
        other: encoded questions of the other skills (retention), or None.
        batch_size: rows per forward.
        latency: also measure ``latency``, the wall seconds per question (the mix's rebuild
            included). Off unless it is an objective: a timing differs run to run, and the
            results are recorded in the stored front.
    """

    model: object
    factors: dict[str, Factors]
    experts: list[dict[str, torch.Tensor]]
    domain: tuple[torch.Tensor, torch.Tensor]
    other: tuple[torch.Tensor, torch.Tensor] | None
    batch_size: int
    latency: bool = False

    def __call__(self, alphas: Sequence[float]) -> dict[str, float]:
        """Apply the mix and score the questions (teacher-forced greedy exact match)."""
        start = time.perf_counter()
        weights = active_weights(alphas)
        z = mix(self.experts, weights, list(self.factors))
        load_weights(self.model, weights_for(self.factors, z))
        hits = greedy_matches(self.model, *self.domain, self.batch_size).float()
        out = {"accuracy": float(hits.mean())}
        questions = len(hits)
        if self.other is not None:
            other = greedy_matches(self.model, *self.other, self.batch_size).float()
            out["other_accuracy"] = float(other.mean())
            questions += len(other)
        if self.latency:
            out["latency"] = (time.perf_counter() - start) / questions
        out["experts"] = float(sum(w > 0 for w in weights))
        return out
