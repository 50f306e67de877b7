"""Phase 8, compression: SeedLM, VPTQ and hyper-compression stages with quality gates.

Stages run in order; each decodes the previous stage's weights and re-encodes the
hidden matrices (every linear layer but the head), and only the last stage's
representation is stored. Embeddings, norms and the head keep the input's precision. A
stage that would not store the matrices in fewer bytes than they take is skipped (and
``forge plan`` warns, W004). Bits per weight (REFERENCES.md):

- SeedLM (arXiv:2410.10714): (seed_bits + exponent_bits + coef_bits * latent) / block
- VPTQ (arXiv:2409.17066): ceil(log2(codebook)) / vector_len (+ residual), plus one fp16
  codebook shared by the stage's matrices and one fp32 scale a matrix
- hyper (arXiv:2409.00592): bits per index / pair_size, layers over max_error keep the
  form they had

``retention_threshold`` (0.95 a stage) and ``cumulative_threshold`` (0.84) document
the design's defaults; the kernel records ``retention.<stage>`` and
``cumulative_retention``, and gates in the recipe enforce them.
"""

import math
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from forgelang.diagnostics import did_you_mean
from forgelang.kinds import compression_cost, costs
from forgelang.kinds.base import Estimate, EstimateContext, Kind, ModelSpec, Params
from forgelang.kinds.common import DataSource, EvalConfig, data_field, eval_field


class SeedLM(Params):
    """Per block of C weights keep the LFSR seed whose C x P basis fits best, plus P coefficients."""

    type: Literal["seedlm"] = "seedlm"
    block: int = Field(8, ge=2, le=256, description="C: weights per block")
    latent: int = Field(3, ge=1, le=64, description="P: coefficients per block")
    seed_bits: int = Field(16, ge=4, le=24, description="K: LFSR seed bits (2^K seeds searched)")
    coef_bits: int = Field(4, ge=2, le=16, description="bits per quantised coefficient")
    exponent_bits: int = Field(4, ge=0, le=8, description="bits of the shared exponent per block")

    @model_validator(mode="after")
    def _fits(self):
        if self.latent >= self.block:
            raise ValueError(f"latent ({self.latent}) must be smaller than block ({self.block})")
        return self

    def bits_per_weight(self) -> float:
        return (self.seed_bits + self.exponent_bits + self.coef_bits * self.latent) / self.block

    def flops_per_weight(self) -> float:
        # every seed: generate the C x P basis, least-squares fit and error (~4 C P + 2 P^2 per block)
        per_block = (2 ** self.seed_bits) * (4 * self.block * self.latent + 2 * self.latent ** 2)
        return per_block / self.block


class Vptq(Params):
    """Vector post-training quantisation with a Hessian-weighted k-means codebook."""

    type: Literal["vptq"] = "vptq"
    vector_len: int = Field(8, ge=1, le=64, description="v: weights per vector")
    codebook: int = Field(65_536, ge=2, le=2**20, description="k: centroids in the main codebook")
    residual: int = Field(0, ge=0, le=2**20, description="centroids in the residual codebook (0 = none)")
    kmeans_iters: int = Field(10, ge=1, le=1000, description="k-means iterations")
    calibration_samples: int = Field(128, ge=1, le=100_000,
                                     description="sequences used for the Hessian H = 2XX^T")

    def bits_per_weight(self) -> float:
        # indices are stored at whole bits (runtime.compression.vptq.index_bits)
        bits = math.ceil(math.log2(self.codebook)) / self.vector_len
        return bits + (math.ceil(math.log2(self.residual)) / self.vector_len
                       if self.residual > 1 else 0.0)

    def flops_per_weight(self) -> float:
        # k-means assignment: distance to every centroid, per iteration (main + residual)
        return 3 * self.kmeans_iters * (self.codebook + self.residual)


class Hyper(Params):
    """Hyper-compression: weights as indices along an ergodic trajectory."""

    type: Literal["hyper"] = "hyper"
    points: int = Field(1600, ge=2, le=2**24, description="trajectory points per unit square")
    bits: int = Field(13, ge=2, le=32, description="bits per stored index")
    pair_size: int = Field(2, ge=1, le=8, description="weights represented by one index")
    max_error: float = Field(0.05, gt=0, le=1,
                             description="relative error above which a layer stays raw")

    def bits_per_weight(self) -> float:
        return self.bits / self.pair_size

    def flops_per_weight(self) -> float:
        return 4 * self.points / self.pair_size  # nearest trajectory point per group


STAGES: dict[str, type[Params]] = {"seedlm": SeedLM, "vptq": Vptq, "hyper": Hyper}


def _stage(value):
    if isinstance(value, Params):
        return value
    if isinstance(value, str):
        value = {"type": value}
    if not isinstance(value, dict) or value.get("type") not in STAGES:
        name = value.get("type") if isinstance(value, dict) else value
        hint = did_you_mean(str(name), STAGES) or ""
        raise ValueError(f"unknown compression stage {name!r}; {hint}".rstrip("; "))
    return STAGES[value["type"]].model_validate(value)


Stage = Annotated[SeedLM | Vptq | Hyper, BeforeValidator(_stage)]


class CompressionParams(Params):
    """Parameters of the ``compression`` phase."""

    stages: list[Stage] = Field(default_factory=lambda: ["seedlm", "vptq", "hyper"],
                                min_length=1, description="stages in order")
    retention_threshold: float = Field(0.95, gt=0, le=1,
                                       description="retention each stage should keep (enforce with a gate)")
    cumulative_threshold: float = Field(0.84, gt=0, le=1,
                                        description="retention of the whole phase (enforce with a gate)")
    data: DataSource = data_field("calibration and evaluation data")
    eval: EvalConfig = eval_field()


def estimate(p: CompressionParams, ctx: EstimateContext) -> Estimate:
    """The kernel's passes (``forgelang.kinds.compression_cost``) and what it stores."""
    first = costs.first_input(ctx.inputs, "compression")
    cost = costs.cost_of(first)
    work, applied, bits = compression_cost.phase_work(p, first, cost)
    in_bits = compression_cost.input_matrix_bits(first, cost)
    rest_bits = 32.0 if min(first.bits_per_param, 32.0) < 32 and in_bits < first.bits_per_param \
        else min(first.bits_per_param, 32.0)
    rest = first.params - cost.matrix_params
    out = ModelSpec(params=first.params,
                    bits_per_param=(cost.matrix_params * bits + rest * rest_bits)
                    / max(1, first.params),
                    architecture=first.architecture, extra_bytes=first.extra_bytes)
    ran = [s.type for s, a in zip(p.stages, applied, strict=True) if a]
    notes = [f"stages run: {', '.join(ran) or 'none'}; {cost.matrix_params:,} matrix weights "
             f"from {in_bits:.2f} to {bits:.2f} bits/weight; ratio "
             f"{first.disk_bytes / out.disk_bytes:.2f}x"]
    notes += [f"stage {i} skipped: {why}" for i, why in
              compression_cost.skipped_stages(p.stages, first, cost)]
    return Estimate(params=out.params,
                    peak_memory_bytes=compression_cost.peak_bytes(p, first, cost, ctx.device),
                    flops=work.flops, seconds=costs.seconds(work.flops, ctx.device, work.ops),
                    disk_bytes=out.disk_bytes, outputs=(out,), notes=tuple(notes))


def plan_warnings(p: CompressionParams, ctx: EstimateContext) -> tuple[tuple[str, str], ...]:
    """W004 for each stage the kernel will skip because it would not make its input smaller."""
    first = costs.first_input(ctx.inputs, "compression")
    return tuple(("W004", f"compression stage {i + 1} ({p.stages[i].type}) will be skipped: "
                          f"{why}") for i, why in
                 compression_cost.skipped_stages(p.stages, first, costs.cost_of(first)))


KIND = Kind(
    name="compression",
    summary="SeedLM, VPTQ and hyper-compression stages with per-stage and cumulative "
            "retention gates.",
    params=CompressionParams,
    estimate=estimate,
    metrics=("compression_ratio", "compression_ratio.*", "retention.*", "bits_per_weight",
             "bits_per_weight.*", "reconstruction_error.*", "stage.*",
             "cumulative_retention.*", "input_accuracy", "input_disk_bytes", "compressed.*",
             "answer_perplexity"),
    plan_warnings=plan_warnings,
)
