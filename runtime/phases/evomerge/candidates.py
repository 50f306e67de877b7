"""EvoMerge candidate evaluation: build a genome's merge and run it on held-out examples.

``CandidateEvaluator`` is a picklable callable ``genome -> Measurement`` holding the
input models as (class, config, state dict), so an executor can ship it to other
processes once (Ray: ``ray.put``) and each worker rebuilds the inputs lazily.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from forgelang.kinds.common import SUITE
from runtime.data.example import Example
from runtime.data.splits import derive_seed
from runtime.evolution import INPUT, Genome, GenomeSpace, Measurement
from runtime.evolution.decode import to_request
from runtime.phases.toolkit.draws import eval_seq_len, heldout_examples
from runtime.phases.toolkit.measure import measure


def heldout_for(model, tokenizer, eval_cfg, seed: int, data: str = SUITE) -> list[Example]:
    """The seeded held-out examples every merge is measured on: of the suite (of
    ``eval_cfg.levels``) or of the phase's JSONL ``data`` file's held-out lines, those that
    fit the model's context, capped at ``MAX_EVAL_SEQ_LEN`` tokens."""
    return heldout_examples(tokenizer, eval_cfg, seed, eval_seq_len(model), data)


def measure_candidate(model, tokenizer, heldout: Sequence[Example], eval_cfg,
                      device: str) -> Measurement:
    """The toolkit's accuracy and perplexity, plus each greedy prediction (for diversity).

    ``answer_perplexity`` is left out: no fitness term reads it, and the search runs
    hundreds of candidates.
    """
    measured = measure(model, tokenizer, heldout, eval_cfg, device, answer_nll=False)
    return Measurement(measured.metrics, measured.predictions)


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
    allow_config_mismatch: bool = False  # the recipe's merge.allow_config_mismatch
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
        request = replace(request, allow_config_mismatch=self.allow_config_mismatch)
        return merge_models(request, [inputs[i] for i in order]).to(self.device)

    def __call__(self, genome: Genome) -> Measurement:
        """Merge and measure one genome."""
        model = self.build(genome)
        return measure_candidate(model, self.tokenizer, self.heldout, self.eval_cfg, self.device)
