"""Phase 2, evomerge: evolutionary search over merges of the input models.

Each candidate is a merge recipe (technique + its settings + per-model weights); the
kernel merges it, measures ``fitness`` (an expression over measured metrics) on held-out
data and keeps the best. ``mode = merge`` skips evolution and performs one specified
merge, for users merging their own model directories.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from forgelang.kinds import costs, evomerge_cost
from forgelang.kinds.base import Estimate, EstimateContext, Expression, Kind, Params
from forgelang.kinds.common import DataSource, EvalConfig, data_field
from forgelang.kinds.techniques import DEFAULT_TECHNIQUES, TechniqueSpec


class MergeSpec(Params):
    """One merge, performed as written (``mode = merge``)."""

    technique: TechniqueSpec = Field("linear", description="merge technique and its settings")
    weights: list[float] | None = Field(None, description="weight per input model; unset = equal")
    dtype: Literal["first", "float32", "bfloat16", "float16"] = Field(
        "first", description="dtype of the merged weights; `first` = the first input's")
    allow_config_mismatch: bool = Field(
        False, description="merge inputs whose configs differ in what they compute "
                           "(rope_theta, model_type, ...); the output takes the first config "
                           "(also read by `mode = evolve`)")

    @model_validator(mode="after")
    def _weights(self):
        if self.weights is not None and (not self.weights or any(w < 0 for w in self.weights)):
            raise ValueError("weights must be a non-empty list of non-negative numbers")
        return self


class LocalExecutor(Params):
    """Evaluate candidates one after another in this process."""

    type: Literal["local"] = "local"


class RayExecutor(Params):
    """Evaluate candidates as Ray tasks (optional extra ``agent-forge[ray]``)."""

    type: Literal["ray"] = "ray"
    address: str | None = Field(None, min_length=1,
                                description="Ray cluster address for `ray.init`: `auto` joins a "
                                            "running cluster; unset = RAY_ADDRESS's cluster, "
                                            "else a local Ray instance")
    num_cpus: int | None = Field(None, ge=1, le=100_000,
                                 description="CPUs per candidate-evaluation task; unset = Ray's default (1)")


def _executor_block(value):
    """A bare name (``local``, ``ray``) means that executor with its defaults."""
    if isinstance(value, str):
        if value not in ("local", "ray"):
            raise ValueError(f"unknown executor {value!r}; expected `local` or `ray`")
        return {"type": value}
    return value


# A field type: `executor = local` or `executor = ray { address = "auto" }`.
ExecutorSpec = Annotated[LocalExecutor | RayExecutor, Field(discriminator="type"),
                         BeforeValidator(_executor_block)]


class EvoMergeParams(Params):
    """Parameters of the ``evomerge`` phase."""

    mode: Literal["evolve", "merge"] = Field(
        "evolve", description="`evolve` searches merges; `merge` performs `merge` as written")
    population: int = Field(8, ge=2, le=4096, description="candidates per generation")
    generations: int = Field(50, ge=1, le=100_000, description="generations of evolution")
    elitism: int = Field(2, ge=0, le=4096, description="best candidates copied unchanged")
    tournament_size: int = Field(3, ge=2, le=4096, description="candidates per selection tournament")
    mutation_rate: float = Field(0.1, ge=0, le=1, description="probability a gene is mutated")
    mutation_scale: float = Field(0.1, ge=0, le=10, description="std of the Gaussian weight mutation")
    crossover_rate: float = Field(0.7, ge=0, le=1, description="probability two parents cross over")
    fitness: Expression = Field("0.9 * accuracy + 0.1 * diversity",
                                description="expression over measured metrics to maximise")
    techniques: list[TechniqueSpec] = Field(default_factory=lambda: list(DEFAULT_TECHNIQUES),
                                            min_length=1, description="techniques the search may use")
    base: Literal["mean", "first"] = Field(
        "mean", description="base b for task vectors: mean of the inputs or the first input")
    merge: MergeSpec = Field(default_factory=MergeSpec, description="the merge for `mode = merge`")
    data: DataSource = data_field("fitness data")
    eval: EvalConfig = Field(default_factory=lambda: EvalConfig(examples=64),
                             description="held-out evaluation sizes per candidate")
    executor: ExecutorSpec = Field(default_factory=LocalExecutor,
                                   description="where candidates are evaluated: `local` or "
                                               "`ray { address = \"auto\" }`")

    @model_validator(mode="after")
    def _selection_fits(self):
        if self.elitism >= self.population:
            raise ValueError(f"elitism ({self.elitism}) must be below population ({self.population})")
        if self.tournament_size > self.population:
            raise ValueError(f"tournament_size ({self.tournament_size}) exceeds population "
                             f"({self.population})")
        return self

    def candidates(self) -> int:
        """Candidates merged and evaluated: the first population (grown to hold one genome
        per technique), then the non-elite children of each later generation."""
        if self.mode == "merge":
            return 1
        first = max(self.population, len(self.techniques))
        return first + (self.generations - 1) * (self.population - self.elitism)


def estimate(p: EvoMergeParams, ctx: EstimateContext) -> Estimate:
    """Every candidate's merge and held-out measurement (``forgelang.kinds.evomerge_cost``)."""
    first = costs.first_input(ctx.inputs, "evomerge")
    cost = costs.cost_of(first)
    k = max(1, len(ctx.inputs))
    work, measured = evomerge_cost.phase_work(p, first, cost, k)
    peak = evomerge_cost.peak_bytes(p, cost, k) + costs.overhead(ctx.device)
    out = costs.same_shape(first, 32.0)
    notes = (f"{measured} models measured (inputs and candidates) x {p.eval.examples} "
             "held-out examples",
             "output shaped like the first input (FrankenMerge/DFS may change depth)")
    return Estimate(params=out.params, peak_memory_bytes=int(peak), flops=work.flops,
                    seconds=costs.seconds(work.flops, ctx.device, work.ops),
                    disk_bytes=out.disk_bytes, outputs=(out,), notes=notes)


KIND = Kind(
    name="evomerge",
    summary="Evolutionary search over linear / SLERP / TIES / DARE / FrankenMerge / DFS merges "
            "of the input models, or one specified merge.",
    params=EvoMergeParams,
    estimate=estimate,
    # exactly what the kernel records (a contract test runs it and compares)
    metrics=("fitness", "diversity", "generation.*", "technique.*", "candidates", "parents.*",
             "champion.*", "input_accuracy", "merged.*", "merge_input.*"),
    inputs=(1, None),
    jsonl_data=True,
)
