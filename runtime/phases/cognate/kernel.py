"""The ``cognate`` phase kernel: shared pre-training, then one specialist per role.

Steps (all seeded from the step's seed, deterministic on CPU):

1. build the tokenizer (``architecture.vocab_size``) from the suite's train split;
2. initialise one TRM x Titans-MAG model and pre-train it ``pretrain_steps`` steps on the
   mix of every task family (``data = suite``) or every line of the user's JSONL file;
3. copy it into ``models`` specialists, each trained ``steps`` steps on its role's mix
   (``SPECIALIST_MIXES``, plus ``replay``) with a fresh MuGrokfast optimiser
   (``runtime.phases.cognate.sources`` says how JSONL lines map to roles);
4. with ``merge_check``, train one more model from an independent initialisation exactly
   like the second specialist (same batches, same steps);
5. measure each specialist on one held-out set of every family of ``levels``
   (``accuracy``, ``accuracy.<family>``, ``role_accuracy.<role>``, ``perplexity``), the
   specialisation margins, and the design's merge check: the average of the first two
   specialists' weights (shared initialisation) against the average of the first
   specialist and the independent model.

Each stage is a toolkit ``TrainingStage``: it checkpoints into ``ctx.checkpoint_dir`` when
done, and mid-stage when a stop is requested, so a killed or stopped run resumes without
repeating finished work.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch

from forgelang.kinds.cognate import CognateParams
from runtime.data import build_tokenizer
from runtime.data.splits import derive_seed
from runtime.kernels import KERNELS, ModelOutput, PhaseContext, PhaseResult
from runtime.phases.cognate.eval import average_weights, measure, specialisation
from runtime.phases.cognate.sources import GENERAL, JsonlSource, SuiteSource, data_source
from runtime.phases.toolkit.stage import TrainingStage, train_stage

PRETRAIN = "pretrain"


@dataclass
class CognateSetup:
    """What every stage shares: params, tokenizer, model config, step budget, data."""

    params: CognateParams
    tokenizer: object
    config: object
    total_steps: int
    source: SuiteSource | JsonlSource


def model_config(params: CognateParams):
    """The ``TrmTitansMagConfig`` of ``params.architecture`` (its fields map one to one)."""
    from runtime.nn import TrmTitansMagConfig

    fields = params.architecture.model_dump(exclude={"type"})
    return TrmTitansMagConfig(**fields)


def stage_seed(seed: int, stage: str) -> int:
    """A torch-sized seed per stage, so each stage's randomness is independent of the others'."""
    return derive_seed("cognate", seed, stage) % 2**63


def _setup(ctx: PhaseContext, params: CognateParams) -> CognateSetup:
    tokenizer = build_tokenizer(params.architecture.vocab_size, ctx.seed)
    if len(tokenizer) > params.architecture.vocab_size:
        raise ValueError(f"tokenizer has {len(tokenizer)} tokens, more than the architecture's "
                         f"vocab_size {params.architecture.vocab_size}")
    total = params.pretrain_steps + params.models * params.steps
    if wants_merge_check(params):
        total += params.pretrain_steps + params.steps
    return CognateSetup(params, tokenizer, model_config(params), total,
                        data_source(params, tokenizer))


def wants_merge_check(params: CognateParams) -> bool:
    """The independent-initialisation comparison needs two specialists to compare with."""
    return params.merge_check and params.models >= 2


def _new_model(setup: CognateSetup, seed: int, device: str):
    from runtime.nn import TrmTitansMagForCausalLM

    torch.manual_seed(seed)
    return TrmTitansMagForCausalLM(setup.config).to(device)


def optimizer_for(model, params: CognateParams):
    """The MuGrokfast optimiser every cognate stage trains with."""
    from runtime.optim import MuGrokfast

    return MuGrokfast.from_config(model, params.optimizer.model_dump())


def _train_stage(ctx: PhaseContext, setup: CognateSetup, model, *, stage: str,
                 role: str | None, steps: int, offset: int, index: int | None = None,
                 data_stage: str | None = None) -> dict:
    """Train ``model`` for one stage on ``role``'s mix (a toolkit ``TrainingStage``).

    ``offset`` is how many of the phase's training steps come before this stage (for
    progress); ``index`` the output model it trains (None: a stage-level model).
    ``data_stage`` names the stage whose batches and seed to reuse (default: its own), so
    the independent model is trained exactly like the specialist it is compared with.
    """
    p = setup.params
    seed = stage_seed(ctx.seed, data_stage or stage)
    spec = TrainingStage(name=stage, steps=steps, seed=seed, warmup_steps=p.warmup_steps,
                         min_lr_ratio=p.min_lr_ratio, model_index=index, progress_offset=offset,
                         progress_total=setup.total_steps, progress_share=0.9)
    return train_stage(
        ctx, spec, model,
        make_batches=lambda: setup.source.stream(role, p.replay, max(steps, 1), p.batch_size, seed),
        make_optimizer=lambda: optimizer_for(model, p))


def _independent_model(ctx: PhaseContext, setup: CognateSetup):
    """A model initialised with another seed, trained like the second specialist."""
    p = setup.params
    model = _new_model(setup, stage_seed(ctx.seed, "independent_init"), ctx.device)
    offset = p.pretrain_steps + p.models * p.steps
    _train_stage(ctx, setup, model, stage="independent_pretrain", role=GENERAL,
                 steps=p.pretrain_steps, offset=offset, data_stage=PRETRAIN)
    _train_stage(ctx, setup, model, stage="independent1", role=p.roles[1], steps=p.steps,
                 offset=offset + p.pretrain_steps, data_stage="specialist1")
    return model


def _merge_check(ctx: PhaseContext, setup: CognateSetup, specialists, independent,
                 heldout) -> dict:
    """Weight averages of two models: shared initialisation vs independent initialisation.

    Both pairs hold the first specialist; the other model was trained the same way in both
    (same batches and steps), from the shared pre-trained model or from its own init.
    """
    pairs = {"shared_init_avg": specialists[1], "independent_init_avg": independent}
    metrics = {}
    for name, other in pairs.items():
        merged = measure(average_weights([specialists[0], other]), setup.tokenizer, heldout,
                         setup.params.eval, ctx.device)
        for key in ("accuracy", "answer_perplexity"):
            metrics[f"merge_check.{name}_{key}"] = merged[key]
    alone = measure(independent, setup.tokenizer, heldout, setup.params.eval, ctx.device)
    metrics["merge_check.independent_model_accuracy"] = alone["accuracy"]
    return metrics


@KERNELS.register("cognate")
class CognateKernel:
    """Phase 1: TRM x Titans-MAG specialists from one shared initialisation."""

    def run(self, ctx: PhaseContext, params, inputs) -> PhaseResult:
        """Pre-train, specialise, measure; see the module docstring."""
        params = params if isinstance(params, CognateParams) else CognateParams.model_validate(params)
        setup = _setup(ctx, params)
        shared = _new_model(setup, stage_seed(ctx.seed, "init"), ctx.device)
        pre = _train_stage(ctx, setup, shared, stage=PRETRAIN, role=GENERAL,
                           steps=params.pretrain_steps, offset=0)
        specialists, summaries = [], []
        for i, role in enumerate(params.roles):
            model = copy.deepcopy(shared)
            offset = params.pretrain_steps + i * params.steps
            summaries.append(_train_stage(ctx, setup, model, stage=f"specialist{i}", role=role,
                                          steps=params.steps, offset=offset, index=i))
            specialists.append(model)
        independent = _independent_model(ctx, setup) if wants_merge_check(params) else None
        ctx.progress(0.9, "evaluating on held-out examples")
        heldout = setup.source.heldout(params.eval.examples, ctx.seed, params.eval.levels)
        measured = [measure(m, setup.tokenizer, heldout, params.eval, ctx.device)
                    for m in specialists]
        outputs = [ModelOutput(role=role, model=m, tokenizer=setup.tokenizer,
                               metrics={**metrics, **summary})
                   for role, m, metrics, summary in zip(params.roles, specialists, measured,
                                                        summaries, strict=True)]
        phase = specialisation(params.roles, measured)
        if independent is not None:
            phase.update(_merge_check(ctx, setup, specialists, independent, heldout))
        phase.update({f"pretrain.{k}": v for k, v in pre.items() if math.isfinite(v)})
        ctx.progress(1.0, "done")
        return PhaseResult(models=outputs, metrics=phase)
