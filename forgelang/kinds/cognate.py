"""Phase 1, cognate: train TRM x Titans-MAG specialists from one shared initialisation.

One shared model is pre-trained for ``pretrain_steps``, then copied into ``models``
specialists that each train ``steps`` more on data weighted towards their role. Merging
in phase 2 needs the shared initialisation (independently initialised networks are
permuted relative to each other).
"""

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from forgelang.kinds import costs
from forgelang.kinds.base import Estimate, EstimateContext, Kind, ModelSpec, Params
from forgelang.kinds.cognate_arch import TrmTitansMagArch, arch_from, count_parameters
from forgelang.kinds.common import (
    SUITE,
    DataSource,
    EvalConfig,
    Levels,
    data_field,
    eval_field,
    levels_field,
)
from forgelang.kinds.optimizer import MuGrokfast, OptimizerSpec, optimizer_field
from forgelang.kinds.suite_roles import stage_weights

Role = Literal["reasoning", "memory", "general"]
Architecture = Annotated[TrmTitansMagArch, BeforeValidator(arch_from)]


class CognateParams(Params):
    """Parameters of the ``cognate`` phase."""

    models: int = Field(3, ge=1, le=16, description="specialist models trained (outputs)")
    roles: list[Role] = Field(default_factory=lambda: ["reasoning", "memory", "general"],
                              description="role of each model, in output order (one per model)")
    pretrain_steps: int = Field(200, ge=0, le=10_000_000,
                                description="optimiser steps of the shared initialisation, batches")
    steps: int = Field(1000, ge=1, le=10_000_000,
                       description="optimiser steps per specialist after the shared init, batches")
    batch_size: int = Field(8, ge=1, le=4096, description="sequences per batch")
    seq_len: int = Field(128, ge=8, le=1_000_000, description="tokens per sequence")
    warmup_steps: int = Field(50, ge=0, le=1_000_000, description="linear learning-rate warm-up, steps")
    min_lr_ratio: float = Field(0.1, ge=0, le=1,
                                description="cosine decay of each stage's lr to this fraction "
                                            "of it (1 = constant after warm-up)")
    levels: Levels = levels_field("difficulty levels (1-10) of the task suite trained on")
    replay: float = Field(0.2, ge=0, lt=1,
                          description="share of each specialist's batches drawn from the shared "
                                      "pre-training mix (keeps specialists mergeable)")
    merge_check: bool = Field(
        True, description="also train an independently initialised model like the second "
                          "specialist and measure the weight average of each pair (shared vs "
                          "independent initialisation); costs pretrain_steps + steps more")
    optimizer: OptimizerSpec = optimizer_field("mugrokfast_pretrain")
    data: DataSource = data_field()
    eval: EvalConfig = eval_field()
    architecture: Architecture = Field(
        default_factory=lambda: arch_from("tiny"),
        description="`smoke`, `tiny`, `full` or trm_titans_mag { ... } (fields default to "
                    "`full`); default: `tiny`, ~1M params")

    @model_validator(mode="after")
    def _consistent(self):
        if len(self.roles) != self.models:
            raise ValueError(f"roles lists {len(self.roles)} roles for {self.models} models")
        if self.seq_len > self.architecture.max_seq_len:
            raise ValueError(f"seq_len ({self.seq_len}) exceeds the architecture's "
                             f"max_seq_len ({self.architecture.max_seq_len})")
        return self


def output_spec(arch: TrmTitansMagArch) -> ModelSpec:
    """The ModelSpec of a freshly trained Cognate model (fp32 safetensors)."""
    arch_items = tuple(sorted(arch.model_dump(mode="json").items()))
    extra = costs.TOKENIZER_CONFIG_BYTES + 32 * arch.vocab_size
    return ModelSpec(params=count_parameters(arch), bits_per_param=32.0,
                     architecture=arch_items, extra_bytes=extra)


def training_stages(p: CognateParams) -> list[tuple[str | None, int]]:
    """``(role, steps)`` of every training stage; role None is the shared pre-training mix.

    The merge check's independent model repeats the pre-training and the second role.
    """
    stages = [(None, p.pretrain_steps)] + [(role, p.steps) for role in p.roles]
    if p.merge_check and p.models >= 2:
        stages += [(None, p.pretrain_steps), (p.roles[1], p.steps)]
    return stages


def stage_length(p: CognateParams, role: str | None) -> float:
    """Expected tokens per sequence of a stage's batches: the suite's batches are trimmed
    after their longest example (and each stage draws its own mix of families); a JSONL
    file's are priced at ``seq_len``."""
    if p.data != SUITE:
        return float(p.seq_len)
    from forgelang.kinds import suite_lengths

    weights = stage_weights(role, p.replay, list(suite_lengths.PERCENTILES))
    return costs.suite_batch_length(p.levels, p.batch_size, p.seq_len,
                                    p.architecture.vocab_size, weights)


def estimate(p: CognateParams, ctx: EstimateContext) -> Estimate:
    """Pre-training + every specialist's training + one held-out evaluation per model."""
    spec = output_spec(p.architecture)
    cost = costs.cost_of(spec)
    stages = training_stages(p)
    distinct = dict.fromkeys(role for role, _ in stages)  # the repeated stages share a mix
    lengths = {role: stage_length(p, role) for role in distinct}
    tokens = train = ops = steps = 0
    for role, stage_steps in stages:
        length = lengths[role]
        stage_tokens = round(stage_steps * p.batch_size * length)
        tokens, steps = tokens + stage_tokens, steps + stage_steps
        train += stage_tokens * cost.train_flops_per_token(round(length))
        ops += stage_steps * cost.train_ops_per_step(round(length))
    evaluated = p.models + (2 if p.merge_check and p.models >= 2 else 0)  # + the two averages
    evaluate = evaluated * p.eval.forward_tokens() * cost.forward_flops_per_token(
        p.eval.prompt_tokens + p.eval.max_new_tokens)
    flops = train + evaluate
    peak = (costs.training_state_bytes(cost) + cost.step_bytes(p.batch_size, p.seq_len)
            + costs.overhead(ctx.device))
    per_stage = ", ".join(f"{role or 'pre-training'} {length:.1f}"
                          for role, length in lengths.items())
    notes = (f"{spec.params:,} params per model; TRM forward {cost.recursions} block-stack "
             f"applications x {cost.supervision_steps} supervision steps, backward "
             f"{cost.backprop_recursions} per supervision step",
             f"{tokens:,} training tokens; tokens per sequence after trimming the padding: "
             f"{per_stage}",
             f"{ops / 1e6:.1f}M tensor ops ({ops / max(1, steps):,.0f} per step) at "
             f"{ctx.device.op_seconds * 1e6:.0f} us each, on top of the FLOPs")
    return Estimate(params=spec.params, peak_memory_bytes=peak, flops=flops,
                    seconds=costs.seconds(flops, ctx.device, ops),
                    disk_bytes=p.models * spec.disk_bytes,
                    outputs=(spec,) * p.models, notes=notes)


KIND = Kind(
    name="cognate",
    summary="Train TRM x Titans-MAG specialist models (reasoning, memory, general) from one "
            "shared initialisation.",
    params=CognateParams,
    estimate=estimate,
    # exactly what the kernel records (a contract test runs it and compares): per-step
    # curves, per stage (`loss.pretrain`) or per specialist; held-out measurements
    metrics=("loss", "loss.*", "lm_loss", "lm_loss.*", "grad_norm", "grad_norm.*", "lr",
             "lr.*", "train_loss", "pretrain.*", "answer_perplexity", "role_accuracy.*",
             "role_examples.*", "specialisation.*", "specialisation_stderr.*",
             "merge_check.*"),
    inputs=(0, 0),
    jsonl_data=True,
)

__all__ = ["CognateParams", "KIND", "MuGrokfast", "estimate", "output_spec"]
