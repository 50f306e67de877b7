"""Held-out measurement of cognate models and the shared-initialisation merge check."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch

from runtime.data.encoding import IGNORE_INDEX, encode_example
from runtime.data.example import Example
from runtime.data.formatting import training_text
from runtime.eval import evaluate, perplexity


def measure(model, tokenizer, heldout: Sequence[Example], eval_cfg, device: str) -> dict[str, float]:
    """``accuracy``, ``accuracy.<family>`` (+ per level) and ``perplexity`` on held-out examples.

    Args:
        model: the causal LM.
        tokenizer: its tokenizer.
        heldout: held-out examples (never trained on).
        eval_cfg: the phase's ``EvalConfig`` (max_new_tokens, batch_size).
        device: where the model runs.
    """
    result = evaluate(model, tokenizer, heldout, max_new_tokens=eval_cfg.max_new_tokens,
                      batch_size=eval_cfg.batch_size, device=device)
    metrics = dict(result.metrics)
    metrics["perplexity"] = perplexity(model, tokenizer, [training_text(ex) for ex in heldout],
                                       batch_size=eval_cfg.batch_size, device=device)
    metrics["answer_perplexity"] = answer_perplexity(model, tokenizer, heldout, device)
    return metrics


@torch.no_grad()
def answer_perplexity(model, tokenizer, heldout: Sequence[Example], device: str) -> float:
    """exp(mean NLL of the answer tokens given the prompt): what training optimises.

    ``perplexity`` scores whole texts, prompts included, which training never learns
    (prompts are masked out of the labels), so this one tracks learning more directly.
    """
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for example in heldout:
            ids, labels = encode_example(example, tokenizer)
            logits = model(input_ids=torch.tensor([ids], device=device)).logits[0].float()  # (T, V)
            target = torch.tensor(labels[1:], device=device)  # (T-1,)
            keep = target != IGNORE_INDEX
            nll = torch.nn.functional.cross_entropy(logits[:-1][keep], target[keep], reduction="sum")
            total, count = total + float(nll), count + int(keep.sum())
    finally:
        model.train(was_training)
    return math.exp(total / max(1, count))


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
