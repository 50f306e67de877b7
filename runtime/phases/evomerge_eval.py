"""EvoMerge candidate evaluation: build a genome's merge and run it on held-out examples.

``CandidateEvaluator`` is a picklable callable ``genome -> Measurement`` holding the
input models as (class, config, state dict), so an executor can ship it to other
processes once (Ray: ``ray.put``) and each worker rebuilds the inputs lazily.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from runtime.data.example import Example
from runtime.data.formatting import training_text
from runtime.data.splits import derive_seed
from runtime.data.tokens import SPECIAL_TOKENS
from runtime.eval import evaluate, perplexity
from runtime.evolution import INPUT, Genome, GenomeSpace, Measurement
from runtime.evolution.decode import to_request

MAX_EVAL_SEQ_LEN = 256  # held-out examples longer than this are redrawn (decoding cost ~ T^2)


def is_suite_tokenizer(tokenizer) -> bool:
    """Whether ``tokenizer`` was built here (it knows every special token of the task suite)."""
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    return all(token in vocab for token in SPECIAL_TOKENS)


def eval_seq_len(model) -> int:
    """The longest held-out example to use: the model's context, capped at MAX_EVAL_SEQ_LEN."""
    cfg = model.config
    for name in ("max_seq_len", "max_position_embeddings", "n_positions"):
        value = getattr(cfg, name, None)
        if isinstance(value, int) and value > 0:
            return min(value, MAX_EVAL_SEQ_LEN)
    return MAX_EVAL_SEQ_LEN


def heldout_examples(model, tokenizer, eval_cfg, seed: int) -> list[Example]:
    """The seeded held-out suite examples (of ``eval_cfg.levels``) a merge is measured on."""
    from runtime.data import TASKS
    from runtime.phases.cognate_data import fitting_examples

    return fitting_examples(TASKS.names(), eval_cfg.examples, seed, "heldout", tokenizer,
                            eval_seq_len(model), eval_cfg.levels)


@torch.no_grad()
def measure_candidate(model, tokenizer, heldout: Sequence[Example], eval_cfg,
                      device: str) -> Measurement:
    """``cognate_eval.measure``'s accuracy and perplexity, plus each greedy prediction.

    ``answer_perplexity`` is left out: no fitness term reads it, and the search runs
    hundreds of candidates.

    Returns:
        ``accuracy``, ``accuracy.<family>`` (+ per level), ``perplexity``, and the
        predictions in example order (for diversity).
    """
    result = evaluate(model, tokenizer, heldout, max_new_tokens=eval_cfg.max_new_tokens,
                      batch_size=eval_cfg.batch_size, device=device)
    metrics = dict(result.metrics)
    metrics["perplexity"] = perplexity(model, tokenizer, [training_text(ex) for ex in heldout],
                                       batch_size=eval_cfg.batch_size, device=device)
    return Measurement(metrics, tuple(r.prediction for r in result.records))


def merge_seed(seed: int, genome: Genome) -> int:
    """The merge's own seed (DARE masks): a function of the step seed and the genome only."""
    return derive_seed("evomerge", seed, genome.key()) % 2**31


@dataclass
class CandidateEvaluator:
    """``genome -> Measurement`` over fixed inputs and held-out examples.

    Attributes:
        model_class: the inputs' model class (all inputs share an architecture).
        configs, states: each input's config and CPU state dict, in input order.
        tokenizer: the first input's tokenizer.
        heldout: the held-out examples every candidate is measured on.
        eval_cfg: the phase's ``EvalConfig``.
        device: where candidates run.
        space: decodes genomes into merge requests.
        base: the task-vector base (``mean`` or ``first``).
        seed: the step's seed.
    """

    model_class: Any
    configs: list
    states: list[dict]
    tokenizer: Any
    heldout: list[Example]
    eval_cfg: Any
    device: str
    space: GenomeSpace
    base: str
    seed: int
    _models: list | None = field(default=None, repr=False)

    @classmethod
    def from_models(cls, models: Sequence, **kwargs) -> CandidateEvaluator:
        """Build from loaded input models (kept as the local cache, so nothing is reloaded)."""
        states = [{k: v.detach().cpu() for k, v in m.state_dict().items()} for m in models]
        out = cls(type(models[0]), [m.config for m in models], states, **kwargs)
        out._models = list(models)
        return out

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_models"] = None  # workers rebuild the models from the state dicts
        return state

    def inputs(self) -> list:
        """The input models (rebuilt from the state dicts on first use in a new process)."""
        if self._models is None:
            models = []
            for config, state in zip(self.configs, self.states, strict=True):
                model = self.model_class(config)
                model.load_state_dict(state)
                models.append(model.to(self.device).eval())
            self._models = models
        return self._models

    def build(self, genome: Genome):
        """The model a genome stands for: an input itself, or a new merge of the inputs."""
        from runtime.merge import merge_models

        inputs = self.inputs()
        if genome.technique == INPUT:
            return inputs[genome.members[0]]
        request, order = to_request(self.space, genome, self.base, merge_seed(self.seed, genome))
        return merge_models(request, [inputs[i] for i in order]).to(self.device)

    def __call__(self, genome: Genome) -> Measurement:
        """Merge and measure one genome."""
        model = self.build(genome)
        return measure_candidate(model, self.tokenizer, self.heldout, self.eval_cfg, self.device)
