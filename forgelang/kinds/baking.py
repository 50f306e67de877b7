"""Phase 6, baking: alternate A-cycles (tool use) and B-cycles (personas) of prompt baking.

Each iteration runs one cycle; a cycle bakes with ``half_baking`` strength (our variant:
the baked weight delta is scaled by the strength, so repeated iterations approach the
full bake). When the active cycle's score improves by less than ``plateau.min_delta``
over ``plateau.window`` iterations, the loop switches cycles; it stops after
``max_iterations`` or when both cycles have plateaued.
"""

from pydantic import Field

from forgelang.kinds import costs
from forgelang.kinds.base import Estimate, EstimateContext, Kind, Params
from forgelang.kinds.common import BakeConfig, DataSource, EvalConfig, data_field, eval_field
from forgelang.kinds.optimizer import OptimizerSpec, optimizer_field
from forgelang.kinds.quietstar import bake_flops

TOOL_PROMPT = ("You can use the calculator: write <calc>expression</calc> and read the "
               "result before you answer.")


class ACycle(Params):
    """Tool-use baking: episodes with the runtime's calculator, scored by task success."""

    prompt: str = Field(TOOL_PROMPT, min_length=1, max_length=4096,
                        description="tool-use instructions baked into the weights")
    episodes: int = Field(64, ge=1, le=1_000_000, description="tool episodes scored per iteration")


class BCycle(Params):
    """Persona baking: the model writes persona prompts itself, the best are baked."""

    personas: int = Field(9, ge=1, le=256, description="persona agents generated per iteration")
    persona_tokens: int = Field(48, ge=1, le=4096, description="tokens per generated persona prompt")
    episodes: int = Field(32, ge=1, le=1_000_000, description="episodes scored per persona")


class Plateau(Params):
    """Plateau detection that switches between the A and B cycles."""

    window: int = Field(3, ge=1, le=1000, description="iterations compared")
    min_delta: float = Field(0.01, ge=0, le=1, description="smallest score gain that is progress")


class BakingParams(Params):
    """Parameters of the ``baking`` phase."""

    a_cycle: ACycle = Field(default_factory=ACycle, description="A-cycle: tool use")
    b_cycle: BCycle = Field(default_factory=BCycle, description="B-cycle: personas")
    half_baking: float = Field(0.5, gt=0, le=1,
                               description="strength of each bake: fraction of the weight delta applied")
    plateau: Plateau = Field(default_factory=Plateau, description="plateau detection")
    max_iterations: int = Field(10, ge=1, le=10_000, description="A/B iterations at most")
    bake: BakeConfig = Field(default_factory=BakeConfig, description="baking settings per bake")
    optimizer: OptimizerSpec = optimizer_field(
        "mugrokfast_ste", "MuGrokfast settings of the bakes' LoRA training")
    data: DataSource = data_field("episode data")
    eval: EvalConfig = eval_field()


def estimate(p: BakingParams, ctx: EstimateContext) -> Estimate:
    """Upper bound: every iteration runs a full bake plus its scoring (no early plateau stop)."""
    first = costs.first_input(ctx.inputs, "baking")
    cost = costs.cost_of(first)
    decode_ctx = p.eval.prompt_tokens + p.eval.max_new_tokens
    per_episode = p.eval.forward_tokens() / p.eval.examples
    a_iters = (p.max_iterations + 1) // 2
    b_iters = p.max_iterations // 2
    a = a_iters * (bake_flops(p.bake, cost, len(p.a_cycle.prompt))
                   + p.a_cycle.episodes * per_episode * cost.forward_flops_per_token(decode_ctx))
    t = p.b_cycle.persona_tokens
    write = p.b_cycle.personas * t * t * cost.forward_flops_per_token(t)  # no KV cache
    score = p.b_cycle.personas * p.b_cycle.episodes * per_episode * cost.forward_flops_per_token(
        decode_ctx + t)
    b = b_iters * (write + score + bake_flops(p.bake, cost, 4 * t))
    flops = a + b + 2 * p.eval.forward_tokens() * cost.forward_flops_per_token(decode_ctx)
    lora = p.bake.lora_rank * 2 * cost.d_model * cost.n_matrices  # A and B per matrix (square approx.)
    ctx_len = p.bake.trajectory_tokens + max(len(p.a_cycle.prompt), 4 * t)
    peak = (costs.training_state_bytes(cost, trainable=lora) + costs.FP32 * cost.params  # teacher
            + cost.activation_bytes(p.bake.batch_size, ctx_len) + costs.overhead(ctx.device))
    notes = (f"{p.max_iterations} iterations ({a_iters} A, {b_iters} B), no early stop",)
    return Estimate(params=first.params, peak_memory_bytes=int(peak), flops=flops,
                    seconds=costs.seconds(flops, ctx.device), disk_bytes=first.disk_bytes,
                    outputs=(first,), notes=notes)


KIND = Kind(
    name="baking",
    summary="A-cycle tool-use and B-cycle persona prompt baking with half-baking and plateau "
            "detection switching cycles.",
    params=BakingParams,
    estimate=estimate,
    metrics=("iteration", "cycle", "a_cycle.*", "b_cycle.*", "persona.*", "plateau.*",
             "bake.*", "tool.*", "kl"),
)
