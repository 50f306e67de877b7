"""Coherence of sampled thoughts: three scores in [0, 1] and their weighted mean.

For thoughts sampled after every position of held-out text (``n`` true tokens follow):

- semantic: ``(1 + cos(e_thought, e_true)) / 2``, where ``e_thought`` is the mean input
  embedding of the thought's tokens and ``e_true`` that of the true tokens after it: does
  the thought talk about what comes next;
- syntactic: ``exp(mean log p(thought token))`` under the sampling policy (the model at
  the phase's temperature, special tokens excluded): the thought's per-token likelihood,
  i.e. how well-formed the model itself finds it (1 / its perplexity);
- predictive: the fraction of thoughts after which the model, reading the thought (no
  mixing), gives the true tokens a higher likelihood than without it.

``coherence = (w_s semantic + w_y syntactic + w_p predictive) / (w_s + w_y + w_p)`` with
the recipe's weights. Also returned: ``thought.gain``, the mixed prediction's mean gain
in log-likelihood per true token over no thought (nats); ``reward``, a thought's reward
before the baseline (that gain summed over its true tokens); ``reward.spread``, the mean
|reward - mean reward at its position|; and ``mixing_weight``, the mean mixing weight.
"""

from __future__ import annotations

import torch

from runtime.thoughts.head import MixingHead
from runtime.thoughts.rows import every_position, sample_thoughts, thought_rows
from runtime.thoughts.score import score_thoughts
from runtime.thoughts.tokens import ThoughtTokens


def semantic_similarity(embeddings: torch.Tensor, thoughts: torch.Tensor, true_ids: torch.Tensor,
                        mask: torch.Tensor) -> torch.Tensor:
    """``(R,)`` ``(1 + cos) / 2`` of mean thought and mean true-token embeddings."""
    thought = embeddings[thoughts].mean(dim=1)  # (R, d)
    weights = mask.unsqueeze(-1).float()  # (R, n, 1)
    true = (embeddings[true_ids] * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)
    return (1 + torch.nn.functional.cosine_similarity(thought, true, dim=-1)) / 2


@torch.no_grad()
def coherence_scores(model, head: MixingHead, tokens: ThoughtTokens, sequences: torch.Tensor,
                     lengths: list[int], *, per_position: int, n_true: int, temperature: float,
                     seed: int, weights: dict[str, float], pad_id: int) -> dict[str, float]:
    """The scores of thoughts sampled after every position of ``sequences (B, T)``."""
    places = every_position(lengths, n_true)
    rows = thought_rows(sequences.tolist(), places, tokens, per_position, pad_id)
    rows = sample_thoughts(model, rows, tokens, temperature, torch.Generator().manual_seed(seed))
    s = score_thoughts(model, head, rows, sequences, tokens, temperature, n_true)
    at = rows.position.unsqueeze(1) + 3 + tokens.length + torch.arange(n_true)
    true_ids = rows.ids.gather(1, at.clamp(max=rows.ids.shape[1] - 1))  # (R, n)
    mask = s.mask.cpu()
    embeddings = model.get_input_embeddings().weight.detach().float().cpu()
    scores = {
        "semantic": float(semantic_similarity(embeddings, rows.thoughts(), true_ids, mask).mean()),
        "syntactic": float(torch.exp(s.thought_logp / tokens.length).mean()),
        "predictive": float(((s.thought - s.base).sum(dim=1) > 0).float().mean()),
    }
    total = sum(weights.values())
    out = {f"coherence.{name}": value for name, value in scores.items()}
    out["coherence"] = sum(weights[name] * scores[name] for name in scores) / total
    count = s.mask.sum(dim=1).clamp(min=1)
    gain = (s.mixed - s.base).sum(dim=1)  # (R,) each thought's reward before the baseline
    out["thought.gain"] = float((gain / count).mean())
    out["reward"] = float(gain.mean())
    grouped = gain.view(-1, per_position)
    out["reward.spread"] = float((grouped - grouped.mean(dim=1, keepdim=True)).abs().mean())
    out["mixing_weight"] = float(s.weight[s.mask].mean())
    return out
