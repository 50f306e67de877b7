"""The ``curriculum`` phase kernel: edge of chaos, adaptive levels, tools, rules, dreams.

Steps (seeded from the step's seed, deterministic on CPU):

1. load the input (Cognate, any transformers causal LM, or ``forge_ternary``); measure it
   on the held-out set (``input_accuracy``) and score the assessment: held-out questions
   at every level and of every family the curriculum does not train (``level.<k>.start``);
   the start level is the one nearest ``threshold`` (``edge_level``);
2. train on the curriculum (``runtime.curriculum``; checkpointed stage ``adaptive``):
   batches of new questions at the controller's level (a ``tool_use.fraction`` of them
   tool episodes), dream rounds of replayed questions; the model's own answers to each
   batch (exact teacher-forced argmax on the step's logits) move the level. A ternary
   input trains through the straight-through estimator and stays ternary;
3. bake the eudaimonia rules one after another (``bake.rule<k>.*``), rule adherence on
   held-out rule prompts before and after (``eudaimonia.adherence_*``);
4. save; measure what was saved: the held-out set, the assessment again (``level.<k>.end``,
   ``forgetting*``), tool use with and without the calculator (``tool.*``).
"""

from __future__ import annotations

from forgelang.kinds.common import SUITE
from forgelang.kinds.curriculum import CurriculumParams
from runtime.curriculum.adaptive import AdaptiveCurriculum, CurriculumObjective
from runtime.curriculum.controller import ControllerSettings, LevelController, edge_level
from runtime.curriculum.questions import QuestionStream, stream_seed
from runtime.curriculum.replay import ReplayBuffer, plan_steps
from runtime.curriculum.scoring import accuracy
from runtime.curriculum.tools import measure_tools
from runtime.data.registry import LEVELS
from runtime.kernels import KERNELS, ModelOutput, PhaseContext, PhaseResult, step_message
from runtime.phases.curriculum.measures import (
    adherence,
    early_levels,
    forgetting,
    heldout_sets,
    snapshot,
)
from runtime.phases.curriculum.rules import bake_rules
from runtime.phases.curriculum.stage import AdaptiveStage, adaptive_stage
from runtime.phases.curriculum.storage import float_form, save_output, straight_through
from runtime.phases.toolkit.draws import eval_seq_len, heldout_examples
from runtime.phases.toolkit.inputs import load_model, load_tokenizer
from runtime.phases.toolkit.measure import before_after, measure

ADAPTIVE = "adaptive"
SHARES = {"measure": 0.1, "train": 0.6, "bake": 0.85}  # progress at the end of each part
LOGGED = ("loss", "lm_loss", "grad_norm", "lr")


def check_supported(params: CurriculumParams) -> None:
    """Refuse, before any work, what this kernel does not build yet."""
    if params.data != SUITE:
        raise NotImplementedError(f"curriculum draws its questions from the task suite only; "
                                  f"JSONL data ({params.data}) is not supported yet")
    if params.levels > len(LEVELS):
        raise NotImplementedError(f"the task suite has {len(LEVELS)} difficulty levels; "
                                  f"levels = {params.levels} is not supported")


@KERNELS.register("curriculum")
class CurriculumKernel:
    """Phase 5: edge-of-chaos curriculum with tool use, eudaimonia baking and replay."""

    def run(self, ctx: PhaseContext, params, inputs) -> PhaseResult:
        """See the module docstring."""
        if not isinstance(params, CurriculumParams):
            params = CurriculumParams.model_validate(params)
        check_supported(params)
        if len(inputs) != 1:
            raise ValueError(f"curriculum takes one input model, got {len(inputs)}")
        source = inputs[0].path
        model, tokenizer = load_model(source, ctx.device), load_tokenizer(source)
        heldout = heldout_examples(tokenizer, params.eval, ctx.seed, eval_seq_len(model))
        sets = heldout_sets(tokenizer, params, ctx.seed)
        ctx.progress(0.0, "measuring the input and the levels")
        before = measure(model, tokenizer, heldout, params.eval, ctx.device)
        start = snapshot(model, tokenizer, sets, params, ctx.device)
        edge = edge_level({k: accuracy(v) for k, v in start.levels.items()}, params.threshold)
        form = float_form(model)
        curriculum, trained = train_curriculum(ctx, params, model, tokenizer, form, edge)
        rules = eudaimonia(ctx, params, model, tokenizer, sets)
        out = save_output(model, tokenizer, ctx.work_dir / "curriculum", form)
        final = model if form is None else load_model(out, ctx.device)
        ctx.progress(SHARES["bake"], "measuring the result")
        after = measure(final, tokenizer, heldout, params.eval, ctx.device)
        end = snapshot(final, tokenizer, sets, params, ctx.device)
        tools = tool_metrics(ctx, params, final, tokenizer, sets)
        ctx.progress(1.0, "done")
        phase = {**before_after([before.metrics], after.metrics, "curriculum"),
                 **start.metrics("start"), **end.metrics("end"), "edge_level": float(edge),
                 **forgetting(start, end, early_levels(curriculum.levels_trained)),
                 **curriculum_metrics(curriculum, trained), **rules, **tools}
        return PhaseResult(models=[ModelOutput(role="curriculum", path=out,
                                               metrics={**after.metrics, **tools})],
                           metrics=phase)


def train_curriculum(ctx: PhaseContext, params: CurriculumParams, model, tokenizer, form,
                     edge: int) -> tuple[AdaptiveCurriculum, dict]:
    """The adaptive stage from level ``edge``; the curriculum (its history) and the summary."""
    from runtime.optim import MuGrokfast

    c = params.controller
    settings = ControllerSettings(params.levels, params.threshold, c.tolerance, c.window,
                                  c.min_questions)
    fraction = params.tool_use.fraction if params.tool_use.enabled else 0.0
    stream = QuestionStream(tokenizer, params.seq_len, stream_seed(ctx.seed, "stream"), fraction)
    buffer = ReplayBuffer(params.dream.buffer_size, stream_seed(ctx.seed, "replay"))
    steps = plan_steps(params.questions, params.batch_size, replay_ratio=params.dream.replay_ratio,
                       every=params.dream.every, dreams=params.dream.enabled)
    curriculum = AdaptiveCurriculum(stream, LevelController(settings, edge), buffer, steps)
    objective = CurriculumObjective(model, curriculum)
    stage = AdaptiveStage(ADAPTIVE, len(steps), stream_seed(ctx.seed, ADAPTIVE))
    with straight_through(model, form):
        summary = adaptive_stage(
            ctx, stage, objective,
            make_optimizer=lambda: MuGrokfast.from_config(objective, params.optimizer.model_dump()),
            on_step=step_logger(ctx, len(steps)))
    model.eval()
    return curriculum, summary


def step_logger(ctx: PhaseContext, steps: int):
    """Log every step's training values, level and rolling accuracy; report progress."""
    low, high = SHARES["measure"], SHARES["train"]

    def on_step(step: int, values: dict) -> None:
        for key in LOGGED:
            ctx.log_metric(f"{key}.{ADAPTIVE}", values[key], step)
        for key in sorted(values.keys() - set(LOGGED)):
            ctx.log_metric(key, values[key], step)
        ctx.progress(low + (high - low) * (step + 1) / max(1, steps),
                     step_message(ADAPTIVE, step + 1, steps, loss=values["loss"]))
    return on_step


def curriculum_metrics(curriculum: AdaptiveCurriculum, summary: dict) -> dict[str, float]:
    """Where the controller ended, how it got there, and what was replayed."""
    trained = curriculum.levels_trained
    out = {"level": float(curriculum.controller.level),
           "level.moves": float(len(curriculum.controller.moves)),
           "level.mean": sum(trained) / len(trained),
           "rolling_accuracy": curriculum.last_rolling,
           "tool.episodes_trained": float(curriculum.tool_episodes),
           "dream.replayed": float(curriculum.replayed),
           "dream.rounds": float(curriculum.rounds)}
    if curriculum.replayed:
        out["dream.accuracy"] = curriculum.replay_hits / curriculum.replayed
    if "train_loss" in summary:
        out["loss"] = summary["train_loss"]
    return out


def eudaimonia(ctx: PhaseContext, params: CurriculumParams, model, tokenizer, sets) -> dict:
    """Bake the rules; adherence on held-out rule prompts before and after (none when off)."""
    if not params.eudaimonia.enabled:
        return {}
    ctx.progress(SHARES["train"], "baking the eudaimonia rules")
    before = adherence(model, tokenizer, sets, params, ctx.device)
    baked = bake_rules(ctx, params, model, tokenizer,
                       (SHARES["train"], SHARES["bake"] - SHARES["train"]))
    after = adherence(model, tokenizer, sets, params, ctx.device)
    return {**baked, "eudaimonia.rules": float(len(params.eudaimonia.rules)),
            "eudaimonia.adherence_before": before, "eudaimonia.adherence_after": after}


def tool_metrics(ctx: PhaseContext, params: CurriculumParams, model, tokenizer, sets) -> dict:
    """Tool use measured by decoding held-out tool questions (none when off)."""
    if not params.tool_use.enabled:
        return {}
    return measure_tools(model, tokenizer, sets.tools, max_calls=params.tool_use.max_calls,
                         max_new_tokens=params.eval.max_new_tokens,
                         batch_size=params.eval.batch_size, device=ctx.device)
