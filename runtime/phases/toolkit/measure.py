"""Before/after measurement: run models on the held-out set, compare inputs with outputs.

Every kernel measures what it made on held-out examples (``toolkit.draws``) with
``measure``, and its inputs on the same examples, so ``before_after`` can give the
runtime its retention baseline (``input_accuracy``; see docs/runtime.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from runtime.data.example import Example
from runtime.data.formatting import training_text
from runtime.eval import answer_perplexity, evaluate, perplexity
from runtime.eval.harness import EvalRecord


@dataclass(frozen=True)
class Measured:
    """What running one model on held-out examples gave.

    Attributes:
        metrics: ``accuracy``, ``accuracy.<family>`` (+ ``.level<k>``), ``perplexity`` and,
            when asked for, ``answer_perplexity``.
        records: each example with the model's greedy prediction and whether it scored.
    """

    metrics: dict[str, float]
    records: tuple[EvalRecord, ...]

    @property
    def predictions(self) -> tuple[str, ...]:
        """The greedy predictions, in example order."""
        return tuple(r.prediction for r in self.records)


@torch.no_grad()
def measure(model, tokenizer, heldout: Sequence[Example], eval_cfg, device: str, *,
            answer_nll: bool = True) -> Measured:
    """Run ``model`` on held-out examples: task accuracy and perplexity.

    Args:
        model: the causal LM.
        tokenizer: its tokenizer.
        heldout: held-out examples (never trained on).
        eval_cfg: the phase's ``EvalConfig`` (``max_new_tokens``, ``batch_size``).
        device: where the model runs.
        answer_nll: also measure ``answer_perplexity`` (one more forward pass per batch;
            a search over hundreds of candidates leaves it out).
    """
    result = evaluate(model, tokenizer, heldout, max_new_tokens=eval_cfg.max_new_tokens,
                      batch_size=eval_cfg.batch_size, device=device)
    metrics = dict(result.metrics)
    metrics["perplexity"] = perplexity(model, tokenizer, [training_text(ex) for ex in heldout],
                                       batch_size=eval_cfg.batch_size, device=device)
    if answer_nll:
        metrics["answer_perplexity"] = answer_perplexity(model, tokenizer, heldout,
                                                      eval_cfg.batch_size, device)
    return Measured(metrics, tuple(result.records))


def before_after(before: Sequence[Mapping[str, float]], after: Mapping[str, float],
                 output: str) -> dict[str, float]:
    """Phase metrics comparing the inputs' and the output's measurements on one set.

    Returns:
        ``input_accuracy`` (the best input's accuracy: the runtime's retention baseline)
        and ``<output>.accuracy``.
    """
    if not before:
        raise ValueError("before_after needs the measurement of at least one input")
    return {"input_accuracy": max(m["accuracy"] for m in before),
            f"{output}.accuracy": after["accuracy"]}
