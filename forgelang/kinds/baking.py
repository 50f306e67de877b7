"""Phase 6, baking: alternate A-cycles (tool use) and B-cycles (personas) of prompt baking.

Each iteration runs one cycle, A first. The A-cycle scores the model on tool-use
episodes (the calculator runs during generation) and bakes the tool prompt; the B-cycle
has the model write ``personas`` persona prompts itself, scores each on held-out persona
episodes with it prepended, and bakes the best. Each bake applies ``half_baking`` of the
trained weight delta (our variant of half-baking: the delta is scaled, so repeated
iterations approach the full bake). Cycles alternate while both progress; a cycle whose
score gains less than ``plateau.min_delta`` over its last ``plateau.window`` iterations
has plateaued and the loop switches to the other for good; it stops after
``max_iterations`` or when both have plateaued (``runtime.personas.cycles``).
"""

from pydantic import Field, model_validator

from forgelang.kinds import baking_cost, costs
from forgelang.kinds.base import Estimate, EstimateContext, Kind, Params
from forgelang.kinds.common import (
    SUITE,
    BakeConfig,
    DataSource,
    EvalConfig,
    data_field,
    eval_field,
)
from forgelang.kinds.optimizer import OptimizerSpec, optimizer_field

TOOL_PROMPT = ("You can use the calculator: write <|tool|>calc(expression)<|/tool|> and read "
               "the result before you answer.")  # the runtime's own tool-call markup
PERSONA_PROMPT = "Write a persona for an assistant in one sentence, like: Talk like a pirate."


class ACycle(Params):
    """Tool-use baking: episodes with the runtime's calculator, scored by task success."""

    prompt: str = Field(TOOL_PROMPT, min_length=1, max_length=4096,
                        description="tool-use instructions baked into the weights")
    episodes: int = Field(64, ge=1, le=1_000_000, description="tool episodes scored per iteration")


class BCycle(Params):
    """Persona baking: the model writes persona prompts itself, the best are baked."""

    prompt: str = Field(PERSONA_PROMPT, min_length=1, max_length=4096,
                        description="persona-generation prompt the model writes personas after")
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

    @model_validator(mode="after")
    def _one_strength(self):
        default = BakeConfig.model_fields["strength"].default  # what a dumped plan holds
        if self.bake.strength not in (default, self.half_baking):
            raise ValueError(f"the strength of every bake is half_baking ({self.half_baking}); "
                             f"bake.strength ({self.bake.strength}) would be ignored: remove it")
        return self


def estimate(p: BakingParams, ctx: EstimateContext) -> Estimate:
    """Every pass the kernel makes, counted (``forgelang.kinds.baking_cost``): measurements,
    the KL reference, ``max_iterations`` alternating A and B iterations (no early plateau
    stop: an upper bound), the result's scores; for a ternary input, the float result too."""
    first = costs.first_input(ctx.inputs, "baking")
    cost = costs.cost_of(first)
    ternary = first.bits_per_param < baking_cost.TERNARY_BITS
    work, a_iters, b_iters = baking_cost.phase_work(p, cost, ternary)
    lora = p.bake.lora_rank * 2 * cost.d_model * cost.n_matrices  # A and B per matrix (square approx.)
    t = p.bake.trajectory_tokens
    prompt = max(len(p.a_cycle.prompt), p.b_cycle.persona_tokens)
    teacher_logp = costs.FP32 * p.bake.trajectories * t * cost.vocab_size  # cached per bake
    seq = costs.suite_batch_length(p.eval.levels, p.eval.batch_size, 256, cost.vocab_size)
    reference = costs.FP32 * p.eval.examples * seq * cost.vocab_size * (2 if ternary else 1)
    peak = (costs.training_state_bytes(cost, trainable=lora) + teacher_logp + reference
            + cost.step_bytes(p.bake.batch_size, round(prompt + 2 * t))
            + costs.overhead(ctx.device))
    notes = (f"{p.max_iterations} iterations ({a_iters} A, {b_iters} B), no early stop",
             f"{work.ops / 1e6:.1f}M tensor ops at {ctx.device.op_seconds * 1e6:.0f} us each, "
             "on top of the FLOPs")
    if p.data != SUITE:
        notes += ("the JSONL file's lines are not counted (unknown when planning)",)
    out = costs.same_shape(first)
    return Estimate(params=out.params, peak_memory_bytes=int(peak), flops=work.flops,
                    seconds=costs.seconds(work.flops, ctx.device, work.ops),
                    disk_bytes=out.disk_bytes, outputs=(out,), notes=notes)


KIND = Kind(
    name="baking",
    summary="A-cycle tool-use and B-cycle persona prompt baking with half-baking and plateau "
            "detection switching cycles.",
    params=BakingParams,
    estimate=estimate,
    metrics=("iterations", "cycle", "score", "kl", "a_cycle.*", "b_cycle.*", "persona.*",
             "plateau.*", "bake.*", "tool.*", "input_accuracy", "baked.*", "answer_perplexity",
             "requantization.*"),
    jsonl_data=True,
)
