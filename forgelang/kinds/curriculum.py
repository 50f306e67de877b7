"""Phase 5, curriculum: edge-of-chaos level finding, then an adaptive 10-level curriculum.

The controller keeps the rolling accuracy near ``threshold`` (0.75 per the design; the
nearest published figure is the "85% rule", Wilson et al. 2019). It also trains tool
use (a calculator the runtime executes), bakes the eudaimonia rules into the weights,
and replays earlier levels ("dream consolidation") against forgetting.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import Field

from forgelang.kinds import baking_cost as bc
from forgelang.kinds import costs, pass_cost, ste_cost
from forgelang.kinds import curriculum_cost as cc
from forgelang.kinds.base import Estimate, EstimateContext, Kind, Params
from forgelang.kinds.common import BakeConfig, DataSource, EvalConfig, data_field, eval_field
from forgelang.kinds.curriculum_cost import rule_heldout_queries  # noqa: F401  (re-exported)
from forgelang.kinds.optimizer import OptimizerSpec, optimizer_field

# The suite's graded reasoning families are the curriculum; tool episodes are tool_use
# questions at the same level; every other family is where forgetting is measured.
CURRICULUM_FAMILIES = ("arithmetic", "word_problems")
TOOL_FAMILY = "tool_use"
NEW, REPLAY = "new", "replay"


def other_families(families: Iterable[str]) -> list[str]:
    """The families the curriculum does not train, in the given order."""
    return [f for f in families if f not in (*CURRICULUM_FAMILIES, TOOL_FAMILY)]


@dataclass(frozen=True)
class Step:
    """One optimiser step of the phase: ``count`` new questions, or ``count`` replayed ones."""

    kind: str
    count: int


def plan_steps(questions: int, batch_size: int, *, replay_ratio: float, every: int,
               dreams: bool) -> list[Step]:
    """The phase's optimiser steps in order (the kernel trains exactly these): batches of
    new questions, and a round of replay batches (``replay_ratio`` x the new questions
    since the last round) after every ``every`` new questions and after the last one."""
    steps: list[Step] = []
    left, since = questions, 0
    while left > 0:
        n = min(batch_size, left)
        steps.append(Step(NEW, n))
        left, since = left - n, since + n
        if dreams and (since >= every or left == 0):
            replay = round(replay_ratio * since)
            since = 0
            while replay > 0:
                k = min(batch_size, replay)
                steps.append(Step(REPLAY, k))
                replay -= k
    return steps


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


def _snapshot(work: pass_cost.Work, cost, p, extra: float) -> None:
    """The assessment (every level) and the other families, scored once in shared batches."""
    from forgelang.kinds.suite_lengths import PERCENTILES

    n, batch = p.controller.assessment_questions, p.eval.batch_size
    others = other_families(PERCENTILES)
    for levels, families, rows in ((range(1, p.levels + 1), CURRICULUM_FAMILIES, p.levels * n),
                                   (p.eval.levels, others, len(others) * n)):
        width = costs.suite_batch_length(levels, min(batch, rows), p.seq_len, cost.vocab_size,
                                         dict.fromkeys(families, 1.0))
        cc.scored(work, cost, rows, width, batch, extra)


def _training(work: pass_cost.Work, cost, p, ternary: bool) -> int:
    """The adaptive stage's steps; their count. The levels it trains are unknown ahead
    (every level equally: an upper bound for a small model, whose edge is at the easiest
    levels; tiny trained levels 1-2 and took 3.7k ops a step, 6.3k planned)."""
    fraction = p.tool_use.fraction if p.tool_use.enabled else 0.0
    weights = {f: (1 - fraction) / len(CURRICULUM_FAMILIES) for f in CURRICULUM_FAMILIES}
    if fraction > 0:
        weights[TOOL_FAMILY] = fraction
    steps = plan_steps(p.questions, p.batch_size, replay_ratio=p.dream.replay_ratio,
                       every=p.dream.every, dreams=p.dream.enabled)
    levels = range(1, p.levels + 1)
    widths = {n: costs.suite_batch_length(levels, n, p.seq_len, cost.vocab_size, weights)
              for n in {s.count for s in steps}}
    for step in steps:
        cc.training_step(work, cost, step.count, widths[step.count], ternary,
                         p.optimizer.ns_steps)
    return len(steps)


def estimate(p: CurriculumParams, ctx: EstimateContext) -> Estimate:
    """Measurement, assessment and tool decoding before and after, the adaptive stage and
    the rule bakes, counted pass by pass (``forgelang.kinds.curriculum_cost``)."""
    first = costs.first_input(ctx.inputs, "curriculum")
    cost = costs.cost_of(first)
    ternary = first.bits_per_param < bc.TERNARY_BITS
    form = bc.Form.of(cost, ternary)
    work = pass_cost.Work()
    for _ in range(2):  # the input, then the output (stored ternary again)
        ste_cost.measurement(work, cost, p, form.stored)
        _snapshot(work, cost, p, form.stored)
    steps = _training(work, cost, p, ternary)
    cc.rules(work, cost, p, form)
    if p.tool_use.enabled:
        cc.tools(work, cost, p, form.stored)
    peak = (costs.training_state_bytes(cost) + cost.step_bytes(p.batch_size, p.seq_len)
            + costs.overhead(ctx.device))
    notes = (f"{steps} optimiser steps of at most {p.batch_size} questions "
             f"({p.questions} new, replay rounds included)",
             f"{work.ops / 1e6:.1f}M tensor ops at {ctx.device.op_seconds * 1e6:.0f} us each, "
             "on top of the FLOPs")
    return Estimate(params=first.params, peak_memory_bytes=int(peak), flops=work.flops,
                    seconds=costs.seconds(work.flops, ctx.device, work.ops),
                    disk_bytes=first.disk_bytes, outputs=(first,), notes=notes)


KIND = Kind(
    name="curriculum",
    summary="Edge-of-chaos level finding and an adaptive 10-level curriculum with tool use, "
            "eudaimonia rule baking and dream consolidation.",
    params=CurriculumParams,
    estimate=estimate,
    metrics=("level", "level.*", "edge_level", "rolling_accuracy", "loss", "loss.*",
             "lm_loss.*", "grad_norm.*", "lr.*", "tool.*", "eudaimonia.*", "dream.*",
             "forgetting", "forgetting.*", "bake.*", "input_accuracy", "curriculum.accuracy",
             "answer_perplexity"),
)
