"""Phase 5, curriculum: edge-of-chaos level finding, then an adaptive 10-level curriculum.

The controller keeps the rolling accuracy near ``threshold`` (0.75 per the design; the
nearest published figure is the "85% rule", Wilson et al. 2019). It also trains tool
use (a calculator the runtime executes), bakes the eudaimonia rules into the weights,
and replays earlier levels ("dream consolidation") against forgetting.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import Field

from forgelang.kinds import costs, pass_cost
from forgelang.kinds.base import Estimate, EstimateContext, Kind, Params
from forgelang.kinds.common import BakeConfig, DataSource, EvalConfig, data_field, eval_field
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


def rule_heldout_queries(bake: BakeConfig) -> int:
    """Held-out queries a rule bake measures its KL on: one sampling batch, at most 8."""
    return min(8, bake.batch_size)


def _bake(work: pass_cost.Work, cost, cfg: BakeConfig, prompt_tokens: float,
          query_tokens: float) -> None:
    """One rule bake (``runtime.baking.bake_prompt``): trajectories sampled from the
    prompted teacher in batches (one forward per token, no cache, then the teacher's
    distributions), for the training and the held-out queries; ``steps`` student steps on
    query + trajectory; the held-out KL measured before and after."""
    t, held = cfg.trajectory_tokens, rule_heldout_queries(cfg)
    teacher = prompt_tokens + query_tokens
    op_step = cost.train_ops_per_step(round(teacher + t))
    for count in (cfg.trajectories, held):
        for start in range(0, count, cfg.batch_size):
            rows = min(cfg.batch_size, count - start)
            for i in range(t + 1):
                work.forward(cost, rows, teacher + i, op_step)
    for _ in range(cfg.steps):
        work.train(cost, cfg.batch_size, query_tokens + t, op_step)
    for _ in range(2 * math.ceil(held / cfg.batch_size)):
        work.forward(cost, min(cfg.batch_size, held), query_tokens + t, op_step)


def _weights(families: Iterable[str]) -> dict[str, float]:
    return dict.fromkeys(families, 1.0)


def _scored(work: pass_cost.Work, cost, rows: int, levels, weights, p) -> None:
    """Exact teacher-forced answers of ``rows`` questions: one no-grad forward per batch."""
    batch = p.eval.batch_size
    width = costs.suite_batch_length(levels, min(batch, rows), p.seq_len, cost.vocab_size, weights)
    op_step = cost.train_ops_per_step(round(width))
    for start in range(0, rows, batch):
        work.forward(cost, min(batch, rows - start), width, op_step)


def _snapshot(work: pass_cost.Work, cost, p) -> None:
    """The assessment (every level) and the other families, scored once."""
    from forgelang.kinds.suite_lengths import PERCENTILES

    n = p.controller.assessment_questions
    _scored(work, cost, p.levels * n, range(1, p.levels + 1), _weights(CURRICULUM_FAMILIES), p)
    others = other_families(PERCENTILES)
    _scored(work, cost, len(others) * n, p.eval.levels, _weights(others), p)


def _training(work: pass_cost.Work, cost, p) -> int:
    """The adaptive stage's steps (levels unknown ahead: every level equally); their count."""
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
        width = widths[step.count]
        work.train(cost, step.count, width, cost.train_ops_per_step(round(width)))
    return len(steps)


def _tools(work: pass_cost.Work, cost, p) -> None:
    """Held-out tool questions decoded twice (with and without the calculator), up to
    ``max_new_tokens`` each: a call and its answer rarely end early."""
    e = p.eval
    mean = costs.suite_batch_length(e.levels, 1, p.seq_len, cost.vocab_size, _weights([TOOL_FAMILY]))
    prompt = mean * 0.5  # a tool episode's target (call + result + answer) is about half of it
    groups = min(e.examples, pass_cost.LENGTH_GROUPS)
    op_step = cost.train_ops_per_step(round(mean))
    for _ in range(2):
        for t in range(e.max_new_tokens):
            work.flops += e.examples * (prompt + t) * cost.forward_flops_per_token(round(mean))
            work.ops += groups * pass_cost.FORWARD_OP_SHARE * op_step


def _eudaimonia(work: pass_cost.Work, cost, p) -> None:
    """Adherence before and after, and one bake per rule."""
    if not p.eudaimonia.enabled:
        return
    for _ in range(2):
        _scored(work, cost, p.eval.examples, p.eval.levels, _weights(["rules"]), p)
    query = costs.suite_batch_length(p.eval.levels, 1, p.seq_len, cost.vocab_size)
    for rule in p.eudaimonia.rules:
        _bake(work, cost, p.eudaimonia.bake, len(rule), query * (1 - pass_cost.ANSWER_SHARE))


def estimate(p: CurriculumParams, ctx: EstimateContext) -> Estimate:
    """Measurement before and after, the assessment twice, the adaptive stage, the rule
    bakes and the tool decoding, counted pass by pass (``forgelang.kinds.pass_cost``)."""
    first = costs.first_input(ctx.inputs, "curriculum")
    cost = costs.cost_of(first)
    work = pass_cost.Work()
    for _ in range(2):  # the input, then the output
        pass_cost.measurement(work, cost, p, cost.vocab_size)
        _snapshot(work, cost, p)
    steps = _training(work, cost, p)
    _eudaimonia(work, cost, p)
    if p.tool_use.enabled:
        _tools(work, cost, p)
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
