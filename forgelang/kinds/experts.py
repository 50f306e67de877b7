"""Phase 7, experts: self-analysis, Transformer-squared SVF experts, NSGA-II expert mixes.

1. Self-analysis: score the model per skill of the task suite; weak skills get experts.
2. SVF (Sun, Cetin, Tang, arXiv:2501.06252): W = U diag(sigma * z) V^T with one trained
   vector z per matrix, trained with REINFORCE (+ KL to the base), lr 2e-3.
3. NSGA-II (Deb et al. 2002, via pymoo) searches mixing coefficients of the experts on
   the objectives; the cross-entropy method adapts a mix per task on a few examples.
"""

import math
from dataclasses import replace
from typing import Literal

from pydantic import Field

from forgelang.kinds import costs, pass_cost
from forgelang.kinds.base import Estimate, EstimateContext, Kind, Params
from forgelang.kinds.common import DataSource, EvalConfig, data_field, eval_field
from forgelang.kinds.evomerge import ExecutorSpec, LocalExecutor

Skill = Literal["arithmetic", "word_problems", "recall", "tool_use", "persona", "rules"]
SvfTarget = Literal["attention", "memory", "mlp"]
Objective = Literal["accuracy", "retention", "latency", "experts"]


class SelfAnalysis(Params):
    """Per-skill scoring of the input model to find its weak skills."""

    skills: list[Skill] = Field(
        default_factory=lambda: ["arithmetic", "word_problems", "recall", "tool_use"],
        min_length=1, description="task-suite skills scored")
    samples_per_skill: int = Field(64, ge=1, le=100_000, description="held-out questions per skill")
    max_experts: int = Field(3, ge=1, le=64, description="experts trained, for the weakest skills")


class Svf(Params):
    """Singular-value fine-tuning of one expert."""

    lr: float = Field(2e-3, gt=0, le=1, description="learning rate of z (paper: 2e-3)")
    steps: int = Field(200, ge=1, le=10_000_000, description="REINFORCE steps per expert")
    batch_size: int = Field(8, ge=1, le=4096, description="prompts per step")
    rank: int | None = Field(None, ge=1, le=65_536,
                             description="top singular values trained per matrix; unset = all")
    targets: list[SvfTarget] = Field(default_factory=lambda: ["attention", "mlp"], min_length=1,
                                     description="matrix groups that get a z vector")
    kl_coefficient: float = Field(0.1, ge=0, le=100, description="weight of KL to the base model")


class Nsga2(Params):
    """Multi-objective search of expert-mixing coefficients (pymoo NSGA-II)."""

    evaluations: int = Field(5000, ge=1, le=10_000_000, description="candidate mixes evaluated")
    population: int = Field(50, ge=4, le=100_000, description="population size")
    objectives: list[Objective] = Field(default_factory=lambda: ["accuracy", "retention"],
                                        min_length=1, description="objectives (all maximised or minimised as named)")
    examples: int = Field(16, ge=1, le=100_000, description="held-out questions per evaluation")
    crossover_eta: float = Field(15.0, gt=0, le=1000, description="SBX distribution index")
    mutation_eta: float = Field(20.0, gt=0, le=1000, description="polynomial mutation index")


class Mixing(Params):
    """Cross-entropy-method adaptation of the expert mix on a few examples."""

    cem_population: int = Field(32, ge=2, le=100_000, description="samples per CEM iteration")
    elite_fraction: float = Field(0.2, gt=0, le=1, description="share kept as elite")
    iterations: int = Field(10, ge=1, le=10_000, description="CEM iterations")
    examples: int = Field(10, ge=1, le=10_000, description="few-shot examples scored per sample")


class ExpertsParams(Params):
    """Parameters of the ``experts`` phase."""

    self_analysis: SelfAnalysis = Field(default_factory=SelfAnalysis, description="self-analysis")
    svf: Svf = Field(default_factory=Svf, description="SVF expert training")
    nsga2: Nsga2 = Field(default_factory=Nsga2, description="NSGA-II search of expert mixes")
    mixing: Mixing = Field(default_factory=Mixing, description="CEM expert mixing")
    seq_len: int = Field(96, ge=8, le=1_000_000, description="tokens per training sequence")
    data: DataSource = data_field()
    eval: EvalConfig = eval_field()
    executor: ExecutorSpec = Field(default_factory=LocalExecutor,
                                   description="where CEM and NSGA-II evaluate mixes: `local` "
                                               "or `ray { address = \"auto\" }`")


CLASSIFY_EXTRA_TOKENS = 30  # the classification prompt's question and skill menu (our prompt)


def _score(work: pass_cost.Work, cost, rows: float, length: float, batch: int) -> None:
    """Teacher-forced scoring of ``rows`` questions: one no-grad forward per batch."""
    batches = math.ceil(rows / batch)
    work.forward(cost, rows, length, batches * cost.train_ops_per_step(round(length)))


def _svf_step(work: pass_cost.Work, cost, p: ExpertsParams, prompt: float, rebuild: float) -> None:
    """One REINFORCE step: sample answers to ``batch_size`` prompts of ``prompt`` tokens (one
    generate() call; a sampled answer is taken to run to ``max_new_tokens``: sampling at
    temperature 1 seldom ends early), then a forward + backward with the expert's matrices
    and a no-grad forward of the base on prompt + answer."""
    b, new = p.svf.batch_size, p.eval.max_new_tokens
    op_step = cost.train_ops_per_step(round(prompt + new))
    for t in range(new):
        work.flops += b * (prompt + t) * cost.forward_flops_per_token(round(prompt + t))
        work.ops += pass_cost.FORWARD_OP_SHARE * op_step
    work.train(cost, b, prompt + new, op_step)
    work.forward(cost, b, prompt + new, op_step)
    work.flops += 4 * rebuild  # W' for sampling, and for the step (forward + backward)


def estimate(p: ExpertsParams, ctx: EstimateContext) -> Estimate:
    """The passes the kernel makes: two held-out measurements (three for a ternary input),
    the SVD of the matrices, teacher-forced scoring of the question sets (self-analysis;
    base, experts and chosen mix per skill; classification; every CEM and NSGA-II
    candidate, each after rebuilding its matrices) and the SVF steps (``pass_cost``)."""
    first = costs.first_input(ctx.inputs, "experts")
    cost = costs.cost_of(first)
    work = pass_cost.Work()
    for _ in range(2 + (first.bits_per_param < 16)):  # ternary: the float mix is measured too
        pass_cost.measurement(work, cost, p, cost.vocab_size)
    side = max(1, int((cost.matrix_params / max(1, cost.n_matrices)) ** 0.5))
    work.flops += 10 * cost.matrix_params * side  # SVD, ~10 m n min(m, n) per matrix
    rebuild = 2 * cost.matrix_params * side  # W = U diag(sigma z) V^T, ~2 m n min(m, n)
    a, bs = p.self_analysis, p.eval.batch_size
    skills = dict.fromkeys(a.skills, 1.0)

    widths: dict[int, float] = {}

    def width(rows: int) -> float:  # a scored batch is as wide as its longest question
        batch = max(1, min(rows, bs))
        if batch not in widths:  # asked thousands of times for a few batch sizes
            widths[batch] = costs.suite_batch_length(p.eval.levels, batch, 256,
                                                     cost.vocab_size, skills)
        return widths[batch]

    length = width(bs)
    n_exp = min(a.max_experts, len(a.skills))
    per_set = len(a.skills) * a.samples_per_skill
    for _ in range(n_exp + 3):  # analysis; base, each expert and the chosen mix per skill
        _score(work, cost, per_set, length, bs)
    _score(work, cost, per_set, length + CLASSIFY_EXTRA_TOKENS, bs)
    prompt = (1 - pass_cost.ANSWER_SHARE) * costs.suite_batch_length(
        p.eval.levels, p.svf.batch_size, p.seq_len, cost.vocab_size, skills)
    for _ in range(n_exp * p.svf.steps):
        _svf_step(work, cost, p, prompt, rebuild)
    cem = p.mixing.iterations * p.mixing.cem_population + 1  # + the base on the same questions
    work.flops += cem * rebuild
    for _ in range(cem):
        _score(work, cost, p.mixing.examples, width(p.mixing.examples), bs)
    other = max(1, len(a.skills) - n_exp) if len(a.skills) > n_exp else 8 - n_exp
    generations = max(1, p.nsga2.evaluations // p.nsga2.population)
    for _ in range(generations * p.nsga2.population):
        work.flops += rebuild
        _score(work, cost, n_exp * p.nsga2.examples, width(n_exp * p.nsga2.examples), bs)
        _score(work, cost, other * p.nsga2.examples, width(other * p.nsga2.examples), bs)
    trainable = cost.n_matrices * side  # z vectors of the expert in training
    # U, sigma, V^T beside W (3x the matrices), the base copies, the evaluators' model copies
    peak = (costs.training_state_bytes(cost, trainable=trainable)
            + 5 * costs.FP32 * cost.matrix_params + 2 * costs.FP32 * cost.params
            + max(cost.step_bytes(p.svf.batch_size, round(prompt + p.eval.max_new_tokens)),
                  cost.inference_bytes(bs, round(length)))  # an SVF step, or a scored batch
            + costs.overhead(ctx.device))
    z_bytes = n_exp * cost.n_matrices * side * costs.FP32
    base_bytes = costs.FP32 * cost.matrix_params  # the base's target matrices, beside the model
    out = replace(first, extra_bytes=first.extra_bytes + z_bytes + base_bytes)
    notes = (f"{n_exp} experts x {p.svf.steps} SVF steps, {generations * p.nsga2.population} "
             f"NSGA-II and {cem} CEM evaluations",
             f"{work.ops / 1e6:.1f}M tensor ops at {ctx.device.op_seconds * 1e6:.0f} us each, "
             "on top of the FLOPs")
    return Estimate(params=out.params, peak_memory_bytes=int(peak), flops=work.flops,
                    seconds=costs.seconds(work.flops, ctx.device, work.ops),
                    disk_bytes=out.disk_bytes, outputs=(out,), notes=notes)


KIND = Kind(
    name="experts",
    summary="Self-analysis of weak skills, Transformer-squared SVF experts and an NSGA-II "
            "search of expert mixes.",
    params=ExpertsParams,
    estimate=estimate,
    metrics=("skill.*", "expert.*", "svf.*", "nsga2.*", "pareto.*", "mixing.*", "experts",
             "classification.*", "chosen.*", "input_accuracy", "answer_perplexity",
             "ternary.*"),
)
