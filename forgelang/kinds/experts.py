"""Phase 7, experts: self-analysis, Transformer-squared SVF experts, NSGA-II expert mixes.

1. Self-analysis: score the model per skill of the task suite; weak skills get experts.
2. SVF (Sun, Cetin, Tang, arXiv:2501.06252): W = U diag(sigma * z) V^T with one trained
   vector z per matrix, trained with REINFORCE (+ KL to the base), lr 2e-3.
3. NSGA-II (Deb et al. 2002, via pymoo) searches mixing coefficients of the experts on
   the objectives; the cross-entropy method adapts a mix per task on a few examples.
"""

from dataclasses import replace
from typing import Literal

from pydantic import Field

from forgelang.kinds import costs
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


def estimate(p: ExpertsParams, ctx: EstimateContext) -> Estimate:
    """SVD of each matrix, SVF training (sampled answers + backward), NSGA-II and CEM scoring."""
    first = costs.first_input(ctx.inputs, "experts")
    cost = costs.cost_of(first)
    decode_ctx = p.eval.prompt_tokens + p.eval.max_new_tokens
    per_question = p.eval.forward_tokens() / p.eval.examples * cost.forward_flops_per_token(decode_ctx)
    side = max(1, int((cost.matrix_params / max(1, cost.n_matrices)) ** 0.5))
    svd = 10 * cost.matrix_params * side  # ~10 m n min(m, n) per matrix (Golub-Kahan)
    n_exp = min(p.self_analysis.max_experts, len(p.self_analysis.skills))
    analysis = len(p.self_analysis.skills) * p.self_analysis.samples_per_skill * per_question
    svf_step = p.svf.batch_size * (per_question + p.seq_len * cost.train_flops_per_token(p.seq_len))
    svf = n_exp * p.svf.steps * svf_step
    # each mix rebuilds W = U diag(sigma*z) V^T: ~2 m n min(m, n) per matrix
    rebuild = 2 * cost.matrix_params * side
    search = p.nsga2.evaluations * (rebuild + p.nsga2.examples * per_question)
    cem = p.mixing.iterations * p.mixing.cem_population * (rebuild + p.mixing.examples * per_question)
    flops = svd + analysis + svf + search + cem
    trainable = cost.n_matrices * side  # z vectors of the expert in training
    # U and V^T beside W (3x the matrices) + the base for KL
    peak = (costs.training_state_bytes(cost, trainable=trainable)
            + 3 * costs.FP32 * cost.matrix_params + costs.FP32 * cost.params
            + cost.activation_bytes(p.svf.batch_size, p.seq_len) + costs.overhead(ctx.device))
    z_bytes = n_exp * cost.n_matrices * side * costs.FP32
    out = replace(first, extra_bytes=first.extra_bytes + z_bytes)  # z vectors saved beside
    notes = (f"{n_exp} experts, {p.nsga2.evaluations} NSGA-II evaluations",)
    return Estimate(params=out.params, peak_memory_bytes=int(peak), flops=flops,
                    seconds=costs.seconds(flops, ctx.device), disk_bytes=out.disk_bytes,
                    outputs=(out,), notes=notes)


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
