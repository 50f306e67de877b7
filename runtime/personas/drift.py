"""How far a model has moved from a reference model: KL of next-token distributions.

The reference (the phase's input) is run once on held-out texts and its log-probabilities
kept; afterwards ``kl_to_reference`` runs the current model on the same texts and gives

    KL = mean over texts of mean over positions t of
         sum_v P_ref(v | x_<t) [log P_ref(v | x_<t) - log P_model(v | x_<t)]

Texts are encoded with the tokenizer's special tokens; every position but a text's last
predicts its next token. Rows are run at their own length (``runtime.baking.forward``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from runtime.baking.forward import causal_logits, encode, left_pad, pad_id


@dataclass
class Reference:
    """The reference model's distributions on held-out texts.

    Attributes:
        ids: (N, T) left-padded token ids.
        mask: (N, T) 1 on real tokens.
        logp: (N, T, V) float32 log-probabilities of the next token at every position.
        batch_size: rows per forward.
    """

    ids: torch.Tensor
    mask: torch.Tensor
    logp: torch.Tensor
    batch_size: int


@torch.no_grad()
def _logp(model, ids: torch.Tensor, mask: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(N, T, V) float32 next-token log-probabilities, in batches of ``batch_size`` rows."""
    parts = [F.log_softmax(causal_logits(model, ids[s:s + batch_size],
                                         mask[s:s + batch_size]).float(), dim=-1)
             for s in range(0, len(ids), batch_size)]
    return torch.cat(parts)


def reference_distributions(model, tokenizer, texts: Sequence[str], *, batch_size: int,
                            device) -> Reference:
    """Run the reference ``model`` once on ``texts``; what ``kl_to_reference`` compares to."""
    if not texts:
        raise ValueError("reference_distributions needs at least one text")
    ids, mask = (t.to(device) for t in left_pad(encode(tokenizer, texts), pad_id(tokenizer)))
    was_training = model.training
    model.eval()
    try:
        return Reference(ids, mask, _logp(model, ids, mask, batch_size), batch_size)
    finally:
        model.train(was_training)


def kl_to_reference(model, reference: Reference) -> float:
    """Mean per-text KL(P_ref || P_model) over the reference's predicting positions."""
    was_training = model.training
    model.eval()
    try:
        logp = _logp(model, reference.ids, reference.mask, reference.batch_size)  # (N, T, V)
    finally:
        model.train(was_training)
    ref = reference.logp
    per_token = (ref.exp() * (ref - logp)).sum(-1)[:, :-1]  # (N, T-1): position t predicts t+1
    counted = (reference.mask[:, :-1] * reference.mask[:, 1:]).to(per_token.dtype)  # (N, T-1)
    per_text = (per_token * counted).sum(-1) / counted.sum(-1).clamp_min(1.0)  # (N,)
    return float(per_text.mean())
