"""What cognate measures beyond the toolkit's accuracy: per-role accuracy, the
specialisation margins, and the weight average of the shared-initialisation merge check."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch

from runtime.data.example import Example
from runtime.data.splits import SPECIALIST_MIXES
from runtime.eval.harness import EvalRecord
from runtime.phases.toolkit.measure import measure as measure_heldout


def measure(model, tokenizer, heldout: Sequence[Example], eval_cfg, device: str) -> dict[str, float]:
    """The toolkit's held-out metrics (with ``answer_perplexity``) plus ``role_accuracy.<role>``."""
    measured = measure_heldout(model, tokenizer, heldout, eval_cfg, device)
    return {**measured.metrics, **role_accuracies(measured.records)}


def role_accuracies(records: Sequence[EvalRecord]) -> dict[str, float]:
    """``role_accuracy.<role>``: accuracy over the examples of each role's task families,
    and ``role_examples.<role>``, how many examples that is.

    The specialisation check compares specialists on these (a reasoning specialist on
    arithmetic and word problems together, and so on; ``SPECIALIST_MIXES``).
    """
    metrics = {}
    for role, mix in SPECIALIST_MIXES.items():
        hits = [r.correct for r in records
                if r.example.family in mix.weights or r.example.family == role]
        if hits:
            metrics[f"role_accuracy.{role}"] = sum(hits) / len(hits)
            metrics[f"role_examples.{role}"] = float(len(hits))
    return metrics


def specialisation(roles: Sequence[str], measured: Sequence[dict]) -> dict[str, float]:
    """``specialisation.<role>``: a specialist's own-role accuracy minus the best other model's,
    and ``specialisation_stderr.<role>``, that difference's standard error.

    Positive means the specialist beats every other model on its own task families. The
    error treats the two accuracies as independent proportions over the role's ``n``
    held-out examples, ``sqrt(p1 (1 - p1) / n + p2 (1 - p2) / n)``: at 40 examples and
    accuracies near 0.1 it is about 0.07, so a margin below that is within the noise.
    """
    margins = {}
    for i, role in enumerate(roles):
        key = f"role_accuracy.{role}"
        others = [m[key] for j, m in enumerate(measured) if j != i and key in m]
        if key in measured[i] and others:
            own, best = measured[i][key], max(others)
            margins[f"specialisation.{role}"] = own - best
            n = measured[i].get(f"role_examples.{role}")
            if n:
                variance = (own * (1 - own) + best * (1 - best)) / n
                margins[f"specialisation_stderr.{role}"] = math.sqrt(variance)
    return margins


@torch.no_grad()
def average_weights(models: Sequence) -> torch.nn.Module:
    """A new model whose floating-point weights are the mean of ``models``' (same architecture)."""
    if len(models) < 2:
        raise ValueError("averaging weights needs at least two models")
    merged = copy.deepcopy(models[0])
    states = [m.state_dict() for m in models]
    averaged = {}
    for name, tensor in states[0].items():
        if tensor.is_floating_point():
            averaged[name] = torch.stack([s[name] for s in states]).mean(dim=0)
        else:
            averaged[name] = tensor
    merged.load_state_dict(averaged)
    return merged
