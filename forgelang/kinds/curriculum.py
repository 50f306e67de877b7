"""Phase 5, curriculum: edge-of-chaos level finding, then an adaptive 10-level curriculum.

The controller keeps the rolling accuracy near ``threshold`` (0.75 per the design; the
nearest published figure is the "85% rule", Wilson et al. 2019). It also trains tool
use (a calculator the runtime executes), bakes the eudaimonia rules into the weights,
and replays earlier levels ("dream consolidation") against forgetting.
"""

from pydantic import Field

from forgelang.kinds import costs
from forgelang.kinds.base import Estimate, EstimateContext, Kind, Params
from forgelang.kinds.common import BakeConfig, DataSource, EvalConfig, data_field, eval_field
from forgelang.kinds.optimizer import OptimizerSpec, optimizer_field
from forgelang.kinds.quietstar import bake_flops

# The design names a "4-rule moral system" without its text; these four are our choice.
EUDAIMONIA_RULES = (
    "Be honest: say what you know, and say when you do not know.",
    "Do no harm: do not help anyone hurt a person.",
    "Respect autonomy: help people reach their own goals, do not decide for them.",
    "Seek flourishing: prefer answers that leave people better able to act well.",
)


class Controller(Params):
    """Adaptive difficulty: move a level up or down to keep rolling accuracy near threshold."""

    window: int = Field(100, ge=1, le=1_000_000, description="questions in the rolling accuracy")
    tolerance: float = Field(0.05, ge=0, le=0.5,
                             description="band around threshold in which the level stays")
    min_questions: int = Field(100, ge=1, le=1_000_000,
                               description="questions at a level before it may change")
    assessment_questions: int = Field(50, ge=1, le=100_000,
                                      description="questions per level in the initial edge-of-chaos assessment")


class ToolUse(Params):
    """Tool-use episodes: the model emits calls, the runtime executes them and feeds results back."""

    enabled: bool = Field(True, description="mix tool-use episodes into the curriculum")
    fraction: float = Field(0.2, ge=0, le=1, description="share of questions that are tool episodes")
    max_calls: int = Field(4, ge=1, le=64, description="tool calls allowed per episode")


class Eudaimonia(Params):
    """Rule baking: the rules are baked into the weights as a prompt (prompt baking)."""

    enabled: bool = Field(True, description="bake the rules after the curriculum")
    rules: list[str] = Field(default_factory=lambda: list(EUDAIMONIA_RULES), min_length=1,
                             description="rules baked, in order (4 by default, our wording)")
    bake: BakeConfig = Field(default_factory=BakeConfig, description="baking settings")


class Dream(Params):
    """Experience replay of earlier levels against catastrophic forgetting."""

    enabled: bool = Field(True, description="replay earlier questions")
    replay_ratio: float = Field(0.2, ge=0, le=1,
                                description="replayed questions per new question")
    buffer_size: int = Field(2000, ge=1, le=10_000_000, description="questions kept for replay")
    every: int = Field(1000, ge=1, le=10_000_000,
                       description="questions between consolidation rounds")


class CurriculumParams(Params):
    """Parameters of the ``curriculum`` phase."""

    levels: int = Field(10, ge=1, le=100, description="difficulty levels")
    questions: int = Field(20_000, ge=1, le=100_000_000, description="training questions in all")
    threshold: float = Field(0.75, gt=0, lt=1,
                             description="target rolling accuracy: the edge of chaos")
    batch_size: int = Field(16, ge=1, le=4096, description="questions per optimiser step")
    seq_len: int = Field(96, ge=8, le=1_000_000, description="tokens per question with its answer")
    controller: Controller = Field(default_factory=Controller, description="adaptive controller")
    tool_use: ToolUse = Field(default_factory=ToolUse, description="tool-use training")
    eudaimonia: Eudaimonia = Field(default_factory=Eudaimonia, description="rule baking")
    dream: Dream = Field(default_factory=Dream, description="dream consolidation (replay)")
    optimizer: OptimizerSpec = optimizer_field(
        "mugrokfast_ste", "MuGrokfast settings (the model is ternary since bitnet)")
    data: DataSource = data_field()
    eval: EvalConfig = eval_field()


def estimate(p: CurriculumParams, ctx: EstimateContext) -> Estimate:
    """Assessment decoding, training on questions (+ replay, + tool turns), rule baking."""
    first = costs.first_input(ctx.inputs, "curriculum")
    cost = costs.cost_of(first)
    decode_ctx = p.eval.prompt_tokens + p.eval.max_new_tokens
    per_question_decode = p.eval.forward_tokens() / p.eval.examples
    assess = p.levels * p.controller.assessment_questions * per_question_decode
    replay = p.dream.replay_ratio if p.dream.enabled else 0.0
    tool_turns = p.tool_use.fraction * p.tool_use.max_calls if p.tool_use.enabled else 0.0
    trained = p.questions * (1 + replay + tool_turns)
    train = trained * p.seq_len * cost.train_flops_per_token(p.seq_len)
    # the controller needs the model's own answer to every question: greedy decoding
    decode = (assess + p.questions * per_question_decode + 2 * p.eval.forward_tokens())
    flops = train + decode * cost.forward_flops_per_token(decode_ctx)
    if p.eudaimonia.enabled:
        prompt_len = sum(len(r) for r in p.eudaimonia.rules)
        flops += bake_flops(p.eudaimonia.bake, cost, prompt_len)
    peak = (costs.training_state_bytes(cost) + cost.activation_bytes(p.batch_size, p.seq_len)
            + costs.overhead(ctx.device))
    notes = (f"{int(trained):,} question sequences trained (replay and tool turns included)",)
    return Estimate(params=first.params, peak_memory_bytes=int(peak), flops=flops,
                    seconds=costs.seconds(flops, ctx.device), disk_bytes=first.disk_bytes,
                    outputs=(first,), notes=notes)


KIND = Kind(
    name="curriculum",
    summary="Edge-of-chaos level finding and an adaptive 10-level curriculum with tool use, "
            "eudaimonia rule baking and dream consolidation.",
    params=CurriculumParams,
    estimate=estimate,
    metrics=("level", "level.*", "edge_level", "rolling_accuracy", "loss", "loss.*",
             "tool.*", "eudaimonia.*", "dream.*", "forgetting", "bake.*"),
)
