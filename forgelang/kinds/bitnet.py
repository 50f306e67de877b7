"""Phase 4, bitnet: ternary (1.58-bit) weights with straight-through fine-tuning.

BitNet b1.58 (Ma et al., arXiv:2402.17764): W~ = clip(round(W / (mean|W| + eps)), -1, 1)
per matrix; activations quantised per token to ``activation_bits`` by absmax; the
optimiser updates full-precision latent weights through the straight-through estimator.
Embeddings, the LM head and norms stay full precision by default; on disk the ternary
codes are packed 5 per byte (``base3``, at most 1.6 bits: no padding byte,
``runtime.formats.ternary_packing``) or 4 per byte (``2bit``, 2 bits).
"""

from typing import Literal

from pydantic import Field

from forgelang.kinds import baking_cost, costs, pass_cost, ste_cost
from forgelang.kinds.base import Estimate, EstimateContext, Kind, ModelSpec, Params
from forgelang.kinds.common import DataSource, EvalConfig, data_field, eval_field
from forgelang.kinds.optimizer import OptimizerSpec, optimizer_field

PACKED_BITS = {"base3": 1.6, "2bit": 2.0}  # 5 trits / byte; 4 codes / byte
SCALE_BITS = 32  # one fp32 gamma per ternary matrix
FullPrecisionPart = Literal["embeddings", "head", "norms"]


class BitNetParams(Params):
    """Parameters of the ``bitnet`` phase."""

    steps: int = Field(500, ge=0, le=10_000_000,
                       description="straight-through fine-tuning steps after ternarisation (0 = none)")
    batch_size: int = Field(8, ge=1, le=4096, description="sequences per batch")
    seq_len: int = Field(128, ge=8, le=1_000_000, description="tokens per sequence")
    activation_bits: int = Field(8, ge=2, le=16, description="per-token absmax activation bits")
    weight_quant: Literal["absmean"] = Field("absmean", description="ternary weight quantiser (gamma = mean|W|)")
    packing: Literal["base3", "2bit"] = Field("base3", description="on-disk code packing")
    keep_full_precision: list[FullPrecisionPart] = Field(
        default_factory=lambda: ["embeddings", "head", "norms"],
        description="parts left in full precision (the paper keeps all three)")
    optimizer: OptimizerSpec = optimizer_field("mugrokfast_ste")
    data: DataSource = data_field()
    eval: EvalConfig = eval_field()


def ternary_parameters(cost: costs.ModelCost, keep: list[str]) -> int:
    """Parameters stored as ternary codes: hidden matrices, plus the embedding if not kept."""
    embedding = 0 if "embeddings" in keep else cost.vocab_size * cost.d_model
    return min(cost.params, cost.matrix_params + embedding)


def ternary_bits_per_param(cost: costs.ModelCost, p: BitNetParams, in_bits: float) -> float:
    """Average stored bits per parameter: packed codes, one scale a matrix, the rest at ``in_bits``."""
    ternary = ternary_parameters(cost, p.keep_full_precision)
    total = (ternary * PACKED_BITS[p.packing] + cost.n_matrices * SCALE_BITS
             + (cost.params - ternary) * in_bits)
    return total / max(1, cost.params)


def estimate(p: BitNetParams, ctx: EstimateContext) -> Estimate:
    """Three measurements (the input, a plain ternarisation, the result: the last two on
    stored ternary layers, which quantise their inputs) and ``steps`` straight-through steps
    on trimmed suite batches, counted pass by pass (``forgelang.kinds.pass_cost``); each
    step also quantises every weight and activation (``ste_cost.ste_step_ops``) and Muon
    orthogonalises every hidden matrix's update (``ste_cost.muon_flops``)."""
    first = costs.first_input(ctx.inputs, "bitnet")
    cost = costs.cost_of(first)
    length = costs.suite_batch_length(p.eval.levels, p.batch_size, p.seq_len, cost.vocab_size)
    work = pass_cost.Work()
    stored = baking_cost.OPS_TERNARY_STORED * cost.n_matrices
    for extra in (0.0, stored, stored):
        ste_cost.measurement(work, cost, p, extra)
    op_step = cost.train_ops_per_step(round(length)) + ste_cost.ste_step_ops(cost, False)
    for _ in range(p.steps):
        work.train(cost, p.batch_size, length, op_step)
        work.flops += ste_cost.muon_flops(cost, p.optimizer.ns_steps)
    # latent fp32 weights + their ternary copies in the forward
    peak = (costs.training_state_bytes(cost) + costs.FP32 * cost.matrix_params
            + cost.step_bytes(p.batch_size, round(length)) + costs.overhead(ctx.device))
    bits = ternary_bits_per_param(cost, p, min(first.bits_per_param, 32.0))
    out = ModelSpec(params=first.params, bits_per_param=bits, architecture=first.architecture,
                    extra_bytes=first.extra_bytes)
    notes = (f"{ternary_parameters(cost, p.keep_full_precision):,} of {cost.params:,} params ternary at "
             f"{PACKED_BITS[p.packing]} bits; {bits:.2f} bits/param overall",
             f"{p.steps} straight-through steps on batches {length:.1f} tokens wide after trimming",
             f"{work.ops / 1e6:.1f}M tensor ops at {ctx.device.op_seconds * 1e6:.0f} us each, "
             "on top of the FLOPs")
    return Estimate(params=out.params, peak_memory_bytes=int(peak), flops=work.flops,
                    seconds=costs.seconds(work.flops, ctx.device, work.ops),
                    disk_bytes=out.disk_bytes, outputs=(out,), notes=notes)


KIND = Kind(
    name="bitnet",
    summary="Ternary (1.58-bit) BitNet b1.58 weights with straight-through fine-tuning, "
            "packed on disk.",
    params=BitNetParams,
    estimate=estimate,
    metrics=("compression_ratio", "loss", "loss.*", "lm_loss.*", "grad_norm.*", "lr.*",
             "sparsity", "quantization_error", "bits_per_param", "scale_bits_per_param",
             "input_disk_bytes",
             "input_accuracy", "ternary.*", "ternary_only.*",
             "answer_perplexity"),
)
