"""Phase 3, quietstar: bake a reasoning prompt, then Quiet-STaR thought training.

Quiet-STaR (Zelikman et al., arXiv:2403.09629): after every token sample thoughts in
parallel, mix the with-thought and without-thought predictions with a mixing head, and
reward each thought by how much it raises the likelihood of the next ``n_true`` tokens
(REINFORCE against the mean over the thoughts sampled at that position).
"""

from typing import Literal

from pydantic import Field, model_validator

from forgelang.kinds import baking_cost, costs, pass_cost
from forgelang.kinds import quietstar_cost as qc
from forgelang.kinds.base import Estimate, EstimateContext, Kind, Params
from forgelang.kinds.common import (
    BakeConfig,
    DataSource,
    EvalConfig,
    Levels,
    data_field,
    eval_field,
    levels_field,
)
from forgelang.kinds.optimizer import OptimizerSpec, optimizer_field

COT_PROMPT = "Let's think step by step."


class ReasoningBake(BakeConfig):
    """Prompt baking of the reasoning prompt before thought training."""

    prompt: str = Field(COT_PROMPT, max_length=4096,
                        description="prompt baked into the weights (empty = skip baking)")


class AntiTheater(Params):
    """Checks that thoughts really help (not theatre): measured, not asserted."""

    enabled: bool = Field(True, description="run the checks after training")
    examples: int = Field(64, ge=1, le=100_000, description="held-out examples per check")
    min_gain: float = Field(0.0, ge=-1, le=1,
                            description="accuracy with thoughts minus without must exceed this")
    shuffled_control: bool = Field(True, description="thoughts replaced by random tokens "
                                   "must score worse than real thoughts")


class Coherence(Params):
    """Weights of the coherence score of sampled thoughts (our choice; sum > 0)."""

    semantic: float = Field(0.4, ge=0, le=1, description="similarity of thought and continuation")
    syntactic: float = Field(0.3, ge=0, le=1, description="thought well-formedness (own likelihood)")
    predictive: float = Field(0.3, ge=0, le=1, description="gain in next-token likelihood")

    @model_validator(mode="after")
    def _some_weight(self):
        if self.semantic + self.syntactic + self.predictive <= 0:
            raise ValueError("at least one coherence weight must be positive")
        return self


class QuietStarParams(Params):
    """Parameters of the ``quietstar`` phase."""

    thought_tokens: int = Field(12, ge=1, le=256, description="tokens per thought (paper: 12)")
    thoughts_per_position: int = Field(2, ge=1, le=64,
                                       description="thoughts sampled per position (paper: 2)")
    thought_positions: Literal["all", "answers"] = Field(
        "all", description="thoughts after every token (the paper) or only where an answer "
                           "token follows (our option; docs/quietstar.md)")
    n_true: int = Field(4, ge=1, le=64, description="true future tokens scored by the reward (paper: 4)")
    steps: int = Field(500, ge=1, le=10_000_000, description="optimiser steps of thought training")
    batch_size: int = Field(4, ge=1, le=4096, description="sequences per batch")
    seq_len: int = Field(64, ge=8, le=1_000_000, description="tokens per sequence")
    levels: Levels = levels_field("difficulty levels (1-10) of the task-suite training text")
    temperature: float = Field(1.0, gt=0, le=10, description="sampling temperature of thoughts")
    policy_weight: float = Field(1.0, ge=0, le=100,
                                 description="weight of the REINFORCE loss beside the LM loss")
    mixing_head_hidden: int | None = Field(None, ge=1, le=65_536,
                                           description="hidden width of the mixing head MLP; unset = d_model")
    bake: ReasoningBake = Field(default_factory=ReasoningBake, description="reasoning-prompt baking")
    anti_theater: AntiTheater = Field(default_factory=AntiTheater, description="anti-theatre checks")
    coherence: Coherence = Field(default_factory=Coherence, description="coherence score weights")
    optimizer: OptimizerSpec = optimizer_field(
        "mugrokfast_rl", "MuGrokfast settings; adam_lr 1e-6 is the paper's learning rate")
    data: DataSource = data_field()
    eval: EvalConfig = eval_field()


def bake_flops(bake: BakeConfig, cost: costs.ModelCost, prompt_tokens: int) -> float:
    """Teacher sampling (prompted, no cache) + student training on the trajectories
    (the curriculum and baking estimates use it)."""
    t = bake.trajectory_tokens
    ctx = prompt_tokens + t
    sample = bake.trajectories * t * ctx * cost.forward_flops_per_token(ctx)
    train = bake.steps * bake.batch_size * t * (cost.train_flops_per_token(t)
                                                + cost.forward_flops_per_token(ctx))
    return sample + train


def bake_groups(p: QuietStarParams, vocab: int):
    """Distinct query lengths among a bake batch's rows: the training queries are drawn
    from the thought-training mix at ``levels``, the held-out ones from the held-out set
    (every family at the eval levels); rows of each length run as a forward of their own."""
    from forgelang.kinds.suite_lengths import PERCENTILES

    mix = qc.training_weights(PERCENTILES)
    every = dict.fromkeys(PERCENTILES, 1.0)

    def groups(rows: float, held: bool) -> float:
        if held:
            return qc.distinct(p.eval.levels, rows, vocab, every)
        return qc.distinct(p.levels, rows, vocab, mix)
    return groups


def estimate(p: QuietStarParams, ctx: EstimateContext) -> Estimate:
    """Measurement before and after, baking, thought training, anti-theatre, coherence
    (``forgelang.kinds.quietstar_cost`` counts each pass)."""
    first = costs.first_input(ctx.inputs, "quietstar")
    cost = costs.cost_of(first)
    mean, width = qc.lengths(p, cost.vocab_size)
    work = pass_cost.Work()
    for _ in range(2):  # the input, then the output
        pass_cost.measurement(work, cost, p, cost.vocab_size)
    if p.bake.prompt:
        prompt = baking_cost.text_tokens(p.bake.prompt, cost.vocab_size) + 1  # and a space
        qc.bake(work, cost, p.bake, prompt, mean * (1 - pass_cost.ANSWER_SHARE),
                groups=bake_groups(p, cost.vocab_size))
    rows = 0.0
    for _ in range(p.steps):
        rows = qc.thought_pass(work, cost, p, p.batch_size, mean, width, train=True)
    qc.anti_theater(work, cost, p, cost.vocab_size)
    qc.thought_pass(work, cost, p, min(p.batch_size, p.eval.examples), mean, width, train=False)
    peak = qc.peak_bytes(p, cost) + costs.overhead(ctx.device)
    largest, wide = qc.largest_batch(p, cost.vocab_size)
    out = costs.same_shape(first, 32.0)
    notes = (f"{rows:,.0f} thought rows per step ({p.thoughts_per_position} per position, "
             f"{mean:.1f}-token sequences, batches {width:.1f} wide after trimming); the "
             f"largest, {largest:,.0f} x {wide:.0f} tokens, sets the peak memory",
             f"{work.ops / 1e6:.1f}M tensor ops at {ctx.device.op_seconds * 1e6:.0f} us each, "
             "on top of the FLOPs")
    return Estimate(params=out.params, peak_memory_bytes=int(peak), flops=work.flops,
                    seconds=costs.seconds(work.flops, ctx.device, work.ops),
                    disk_bytes=out.disk_bytes, outputs=(out,), notes=notes)


KIND = Kind(
    name="quietstar",
    summary="Bake a reasoning prompt, then Quiet-STaR thought training with REINFORCE, "
            "coherence scoring and an anti-theatre check.",
    params=QuietStarParams,
    estimate=estimate,
    metrics=("loss", "loss.*", "lm_loss.*", "grad_norm.*", "lr.*", "reward", "reward.*",
             "thought.*", "coherence", "coherence.*", "anti_theater.*", "bake.*", "mixing_weight",
             "input_accuracy", "thinker.*", "answer_perplexity"),
    jsonl_data=True,
)
