"""The experts phase's steps, on one ``Run`` that carries what they share (see kernel.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from runtime.data import TASKS
from runtime.kernels import PhaseContext, step_message
from runtime.phases.experts.adapt import (
    classifier_accuracy,
    front_and_choice,
    make_evaluator,
    run_searches,
)
from runtime.phases.experts.questions import QuestionSets, draw, mixing_questions, split_by_skill
from runtime.phases.experts.report import (
    chosen_metrics,
    expert_metrics,
    front_metrics,
    skill_scores,
    with_weights,
    write_front,
)
from runtime.phases.experts.training import train_expert
from runtime.phases.toolkit.measure import measure
from runtime.svf.decompose import decompose, load_weights, mix, target_matrices, weights_for
from runtime.svf.evaluator import active_weights
from runtime.svf.nsga import CHOICE_RULE, Point
from runtime.svf.store import expert_set, save_experts

SHARES = {"analysis": 0.05, "train": 0.6, "measure": 0.65, "cem": 0.72, "nsga2": 0.95}


@dataclass
class Run:
    """One run of the phase: its inputs and what the steps have made so far."""

    ctx: PhaseContext
    params: object
    model: object
    tokenizer: object
    form: object  # the input's TernaryForm, or None for a float input
    seq_len: int
    factors: dict = field(default_factory=dict)
    base: dict = field(default_factory=dict)  # the base's target matrices
    sets: QuestionSets | None = None
    domains: list[str] = field(default_factory=list)
    experts: list[dict] = field(default_factory=list)
    base_scores: dict = field(default_factory=dict)
    chosen: Point | None = None
    front: list[Point] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)

    @property
    def batch_size(self) -> int:
        return self.params.eval.batch_size

    def details(self) -> dict:
        """How the output was made, as JSON (lineage)."""
        return {"experts": self.domains, "weights": active_weights(self.chosen.x),
                "rule": CHOICE_RULE, "chosen_index": self.chosen.index,
                "objectives": list(self.params.nsga2.objectives),
                "ternary": self.form is not None}


def analyse(run: Run) -> dict:
    """Decompose the targets, draw the question sets, score the base per skill and pick
    the weakest ``max_experts`` skills as domains (ties: the recipe's skill order)."""
    p = run.params.self_analysis
    names = target_matrices(run.model, run.params.svf.targets)
    run.factors = decompose(run.model, names)
    run.base = {n: run.model.get_submodule(n).weight.detach().clone() for n in names}
    run.sets = QuestionSets.draw(run.params, run.tokenizer, run.ctx.seed, run.seq_len)
    scores = skill_scores(run.model, run.tokenizer, run.sets.analysis, run.batch_size)
    ranked = sorted(p.skills, key=lambda s: (scores[s], p.skills.index(s)))
    run.domains = ranked[: min(p.max_experts, len(p.skills))]
    out = {"experts": float(len(run.domains)), "svf.matrices": float(len(names)),
           "svf.trainable_per_expert": float(sum(
               min(run.params.svf.rank or len(f.sigma), len(f.sigma))
               for f in run.factors.values()))}
    for skill in p.skills:
        out[f"skill.{skill}.accuracy"] = scores[skill]
        out[f"skill.{skill}.expert"] = float(skill in run.domains)
    run.ctx.progress(SHARES["analysis"], f"experts for {', '.join(run.domains)}")
    return out


def train_all(run: Run) -> dict:
    """Train (or load) one expert per domain; each expert's last loss."""
    out, n = {}, len(run.domains)
    span = SHARES["train"] - SHARES["analysis"]
    for k, skill in enumerate(run.domains):
        def progress(step, steps, loss=None, k=k, skill=skill):
            run.ctx.progress(SHARES["analysis"] + span * (k + step / steps) / n,
                             step_message(f"{skill} expert", step, steps, loss=loss))
        z, summary = train_expert(run.ctx, run.params, run.model, run.factors, run.tokenizer,
                                  skill, k, run.seq_len, progress)
        run.experts.append(z)
        if "loss" in summary:
            out[f"svf.{skill}.final_loss"] = summary["loss"]
    return out


def measure_experts(run: Run) -> dict:
    """Each expert vs the base on every skill, and the prompt classifier's accuracy."""
    skills = run.params.self_analysis.skills
    run.base_scores = skill_scores(run.model, run.tokenizer, run.sets.measure, run.batch_size)
    out = {f"skill.{s}.base": run.base_scores[s] for s in skills}
    for skill, z in zip(run.domains, run.experts, strict=True):
        scores = with_weights(run.model, run.factors, z, lambda: skill_scores(
            run.model, run.tokenizer, run.sets.measure, run.batch_size))
        out.update(expert_metrics(skill, scores, run.base_scores))
    out["classification.accuracy"] = classifier_accuracy(
        run.model, run.tokenizer, run.sets.measure, skills, run.batch_size)
    run.ctx.progress(SHARES["measure"], "searching expert mixes")
    return out


def retention_questions(run: Run) -> list:
    """Questions of the skills without an expert; when every skill has one, of the suite
    families outside the domains."""
    _, other = split_by_skill(run.sets.search, run.domains)
    if other:
        return other
    families = [f for f in TASKS.names() if f not in run.domains]
    return draw(families, run.params.nsga2.examples, run.ctx.seed, "retention", "heldout",
                run.tokenizer, run.seq_len, run.params.eval.levels)


def adapt(run: Run) -> dict:
    """CEM, then NSGA-II over mixes; the front, the chosen point, their metrics."""
    objectives = list(run.params.nsga2.objectives)
    domain, _ = split_by_skill(run.sets.search, run.domains)
    evaluator = make_evaluator(run.model, run.factors, run.experts, domain,
                               retention_questions(run), run.tokenizer, run.batch_size,
                               latency="latency" in objectives)
    few = mixing_questions(run.params, run.domains, run.tokenizer, run.ctx.seed, run.seq_len)
    mixing = make_evaluator(run.model, run.factors, run.experts, few, [], run.tokenizer,
                            run.batch_size)
    low, high = SHARES["measure"], SHARES["nsga2"]

    def progress(part: str, done: float) -> None:
        start = low if part == "cem" else SHARES["cem"]
        end = SHARES["cem"] if part == "cem" else high
        run.ctx.progress(start + (end - start) * done, f"{part} search")

    cem_result, run.points, _ = run_searches(run.ctx, run.params, evaluator, len(run.experts),
                                             mixing, progress)
    run.front, run.chosen = front_and_choice(run.points, objectives)
    out = {"mixing.best_accuracy": cem_result.best_score,
           "mixing.base_accuracy": mixing([0.0] * len(run.experts))["accuracy"],
           "nsga2.evaluations": float(len(run.points)),
           **front_metrics(run.front, objectives), **chosen_metrics(run.chosen, run.domains)}
    for skill, weight in zip(run.domains, cem_result.best, strict=True):
        out[f"mixing.weight.{skill}"] = weight
    return out


def save_output(run: Run, heldout) -> tuple[Path, object, dict]:
    """Merge the chosen mix, measure it, save model + experts + front: (dir, measured
    held-out result, metrics)."""
    from runtime.bitnet.trainable import save_model

    weights = active_weights(run.chosen.x)
    load_weights(run.model, weights_for(run.factors, mix(run.experts, weights,
                                                          list(run.factors))))
    scores = skill_scores(run.model, run.tokenizer, run.sets.measure, run.batch_size)
    out = {f"chosen.skill.{s}": v for s, v in scores.items()}
    out["chosen.skill_mean"] = sum(scores.values()) / len(scores)
    out["skill.base_mean"] = sum(run.base_scores.values()) / len(run.base_scores)
    cfg, device = run.params.eval, run.ctx.device
    if run.form is not None:
        floating = measure(run.model, run.tokenizer, heldout, cfg, device, answer_nll=False)
        out["ternary.float_accuracy"] = floating.metrics["accuracy"]
    path = save_model(run.model, run.tokenizer, run.ctx.work_dir / "experts", run.form)
    after = measure(run.model, run.tokenizer, heldout, cfg, device)
    if run.form is not None:
        out["ternary.requantisation_cost"] = out["ternary.float_accuracy"] - after.metrics["accuracy"]
    mix_info = {"weights": weights, "rule": CHOICE_RULE, "index": run.chosen.index}
    save_experts(path, expert_set(run.domains, run.experts, run.base,
                                  run.params.self_analysis.skills, mix_info))
    write_front(path, run.points, run.front, run.chosen, run.domains,
                list(run.params.nsga2.objectives))
    run.ctx.progress(1.0, "saved")
    return path, after, out


