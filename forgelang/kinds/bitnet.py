"""Phase 4, bitnet: ternary (1.58-bit) weights with straight-through fine-tuning.

BitNet b1.58 (Ma et al., arXiv:2402.17764): W~ = clip(round(W / (mean|W| + eps)), -1, 1)
per matrix; activations quantised per token to ``activation_bits`` by absmax; the
optimiser updates full-precision latent weights through the straight-through estimator.
Embeddings, the LM head and norms stay full precision by default; on disk the ternary
codes are packed 5 per byte (``base3``, 1.6 bits) or 4 per byte (``2bit``, 2 bits).
"""

from typing import Literal

from pydantic import Field

from forgelang.kinds import costs
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
    """Quantise (a few FLOPs a weight), STE fine-tune, evaluate before and after."""
    first = costs.first_input(ctx.inputs, "bitnet")
    cost = costs.cost_of(first)
    tokens = p.steps * p.batch_size * p.seq_len
    # the forward also quantises every weight and activation: ~4 FLOPs per weight per step
    train = tokens * cost.train_flops_per_token(p.seq_len) + p.steps * 4 * cost.params
    evaluate = 2 * p.eval.forward_tokens() * cost.forward_flops_per_token(
        p.eval.prompt_tokens + p.eval.max_new_tokens)
    flops = train + evaluate
    # latent fp32 weights + their ternary copies in the forward
    peak = (costs.training_state_bytes(cost) + costs.FP32 * cost.matrix_params
            + cost.activation_bytes(p.batch_size, p.seq_len) + costs.overhead(ctx.device))
    bits = ternary_bits_per_param(cost, p, min(first.bits_per_param, 32.0))
    out = ModelSpec(params=first.params, bits_per_param=bits, architecture=first.architecture,
                    extra_bytes=first.extra_bytes)
    notes = (f"{ternary_parameters(cost, p.keep_full_precision):,} of {cost.params:,} params ternary at "
             f"{PACKED_BITS[p.packing]} bits; {bits:.2f} bits/param overall",)
    return Estimate(params=out.params, peak_memory_bytes=int(peak), flops=flops,
                    seconds=costs.seconds(flops, ctx.device), disk_bytes=out.disk_bytes,
                    outputs=(out,), notes=notes)


KIND = Kind(
    name="bitnet",
    summary="Ternary (1.58-bit) BitNet b1.58 weights with straight-through fine-tuning, "
            "packed on disk.",
    params=BitNetParams,
    estimate=estimate,
    metrics=("compression_ratio", "loss", "loss.*", "lm_loss.*", "grad_norm.*", "lr.*",
             "sparsity", "quantization_error", "bits_per_param", "input_disk_bytes",
             "input_accuracy", "ternary.*", "ternary_only.*", "retention_without_ste",
             "answer_perplexity"),
)
