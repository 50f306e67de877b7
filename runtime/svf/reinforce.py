"""REINFORCE training of one SVF expert's z vectors (Transformer², arXiv:2501.06252).

Each step samples an answer to each of the batch's domain questions from the model with
the expert applied (temperature 1, the suite's calculator executing tool calls), scores
it with the suite's exact-match scorer (reward +1 right, -1 wrong, as the paper), and
minimises

    loss = -mean_i r_i * mean_t log p_z(a_it) + kl_coefficient * mean_t KL(p_z || p_base)

over the model-written answer tokens (inserted tool results masked). Only z is a
parameter: the model's weights are frozen, and the expert's matrices enter the forward
through ``torch.func.functional_call``, so gradients flow only to z.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from runtime.data.encoding import IGNORE_INDEX
from runtime.data.example import Example
from runtime.data.formatting import format_example
from runtime.data.tokens import RESULT_CLOSE, RESULT_OPEN
from runtime.eval import greedy_generate, score
from runtime.svf.decompose import Factors, load_weights


@dataclass(frozen=True)
class ReinforceSettings:
    """What one step does: ``kl_coefficient``, the answer budget and the metric prefix."""

    kl_coefficient: float
    max_new_tokens: int
    prefix: str  # e.g. ``svf.arithmetic``: step statistics are logged under it


@dataclass
class StepOutput:
    """``loss`` for ``train_steps``, ``lm_loss`` (the policy term) and the step's stats."""

    loss: torch.Tensor
    lm_loss: torch.Tensor
    stats: dict[str, float]


class SamplingLM:
    """A causal LM whose ``generate()`` samples (temperature 1, no top-k/top-p): lets the
    suite's tool loop (``runtime.eval.greedy_generate``) sample answers."""

    def __init__(self, model):
        self.model = model

    def parameters(self):
        return self.model.parameters()

    def generate(self, **kwargs):
        kwargs.update(do_sample=True, temperature=1.0, top_k=0, top_p=1.0)
        return self.model.generate(**kwargs)


def answer_rows(tokenizer, prompts: Sequence[str], transcripts: Sequence[str],
                pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``(input_ids, labels)`` (B, T) of prompt + sampled transcript; labels
    keep only the model-written tokens (prompt and ``<|result|>..<|/result|>`` masked)."""
    open_id = tokenizer.convert_tokens_to_ids(RESULT_OPEN)
    close_id = tokenizer.convert_tokens_to_ids(RESULT_CLOSE)
    rows = []
    for prompt, transcript in zip(prompts, transcripts, strict=True):
        head = tokenizer(prompt)["input_ids"]
        tail = tokenizer(transcript, add_special_tokens=False)["input_ids"]
        labels, inside = [], False
        for token in tail:
            inside = inside or token == open_id
            labels.append(IGNORE_INDEX if inside else token)
            inside = inside and token != close_id
        rows.append((head + tail, [IGNORE_INDEX] * len(head) + labels))
    length = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), length), pad_id, dtype=torch.long)  # (B, T)
    targets = torch.full((len(rows), length), IGNORE_INDEX, dtype=torch.long)  # (B, T)
    for i, (ids, labels) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        targets[i, : len(ids)] = torch.tensor(labels)
    return input_ids, targets


class SvfObjective(nn.Module):
    """The trainable z vectors of one expert over a frozen causal LM.

    ``state_dict()`` holds only the z vectors (``z.<i>``, the top ``rank`` entries of
    matrix ``i``), so a checkpoint of the objective is the expert.

    Args:
        model: the causal LM (its target weights are the base's; left unchanged).
        factors: matrix name -> its SVD, in a fixed order.
        rank: top singular values trained per matrix; None = all.
        pool: the domain's training questions; a batch's ``input_ids`` index into it.
        tokenizer: the model's tokenizer.
        settings: KL weight, answer budget, metric prefix.
    """

    def __init__(self, model, factors: Mapping[str, Factors], rank: int | None,
                 pool: Sequence[Example], tokenizer, settings: ReinforceSettings):
        super().__init__()
        object.__setattr__(self, "lm", model)  # not a submodule: frozen, not checkpointed
        device = next(model.parameters()).device
        self.names = list(factors)
        self.factors = {n: Factors(f.u.to(device), f.sigma.to(device), f.vh.to(device))
                        for n, f in factors.items()}
        self.z = nn.ParameterList(
            nn.Parameter(torch.ones(min(rank or len(f.sigma), len(f.sigma)), device=device))
            for f in factors.values())
        self.pool, self.tokenizer, self.settings = list(pool), tokenizer, settings
        self.base = {n: model.get_submodule(n).weight.detach().clone() for n in self.names}
        for p in model.parameters():
            p.requires_grad_(False)

    def full_z(self) -> dict[str, torch.Tensor]:
        """Every matrix's whole z: the trained top entries, then 1 for the rest."""
        out = {}
        for name, z in zip(self.names, self.z, strict=True):
            rest = len(self.factors[name].sigma) - len(z)
            out[name] = torch.cat([z, torch.ones(rest, dtype=z.dtype, device=z.device)])
        return out

    def expert_weights(self) -> dict[str, torch.Tensor]:
        """W' = U diag(sigma * z) V^T of every matrix, differentiable in z."""
        z = self.full_z()
        return {name: self.factors[name].rebuild(z[name]) for name in self.names}

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor) -> StepOutput:
        """One REINFORCE step's loss on the questions ``input_ids[:, 0]`` index."""
        examples = [self.pool[int(i)] for i in input_ids[:, 0]]
        rewards, transcripts = self.sample(examples)
        prompts = [format_example(ex)[0] for ex in examples]
        ids, targets = answer_rows(self.tokenizer, prompts, transcripts,
                                   self.tokenizer.pad_token_id)
        ids, targets = ids.to(input_ids.device), targets.to(input_ids.device)
        weights = {f"{n}.weight": w for n, w in self.expert_weights().items()}
        logits = torch.func.functional_call(self.lm, weights, args=(),
                                            kwargs={"input_ids": ids}).logits  # (B, T, V)
        with torch.no_grad():
            base_logits = self.lm(input_ids=ids).logits  # (B, T, V)
        policy, kl = policy_and_kl(logits, base_logits, targets, rewards.to(logits.device))
        loss = policy + self.settings.kl_coefficient * kl
        p = self.settings.prefix
        stats = {f"{p}.reward": float(rewards.mean()), f"{p}.kl": float(kl.detach())}
        return StepOutput(loss, policy.detach(), stats)

    @torch.no_grad()
    def sample(self, examples: Sequence[Example]) -> tuple[torch.Tensor, list[str]]:
        """Sampled answers with the expert applied: rewards (B,) in {-1, 1}, transcripts."""
        load_weights(self.lm, {n: w.detach() for n, w in self.expert_weights().items()})
        try:
            completions = greedy_generate(SamplingLM(self.lm), self.tokenizer,
                                          [format_example(ex)[0] for ex in examples],
                                          self.settings.max_new_tokens, len(examples),
                                          device=self.base[self.names[0]].device)
        finally:
            load_weights(self.lm, self.base)
        rewards = torch.tensor([1.0 if score(ex, c.prediction) else -1.0
                                for ex, c in zip(examples, completions, strict=True)])
        return rewards, [c.transcript for c in completions]


def policy_and_kl(logits: torch.Tensor, base_logits: torch.Tensor, targets: torch.Tensor,
                  rewards: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """REINFORCE term -mean_i r_i * mean_t log p(a_it) and mean_t KL(p || p_base) over the
    answer tokens; logits (B, T, V), targets (B, T) aligned with the inputs, rewards (B,)."""
    shifted = targets[:, 1:]  # (B, T-1): token t+1 is predicted at t
    mask = (shifted != IGNORE_INDEX).float()  # (B, T-1)
    logp = logits[:, :-1].float().log_softmax(-1)  # (B, T-1, V)
    base_logp = base_logits[:, :-1].float().log_softmax(-1)
    token_logp = logp.gather(-1, shifted.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    per_row = (token_logp * mask).sum(1) / mask.sum(1).clamp(min=1)  # (B,)
    policy = -(rewards * per_row).mean()
    kl_token = (logp.exp() * (logp - base_logp)).sum(-1)  # (B, T-1)
    kl = (kl_token * mask).sum() / mask.sum().clamp(min=1)
    return policy, kl
