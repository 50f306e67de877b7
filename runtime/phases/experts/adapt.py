"""Adapting the experts: prompt classification, CEM over mixing weights, NSGA-II over mixes.

CEM and NSGA-II evaluate their candidates through the recipe's executor
(``runtime.executors``: in this process by default, Ray tasks with ``executor = ray``);
both log every evaluation (``runtime.svf.evaluations``), so a stopped or killed run
resumes to the same result.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

from runtime.data.splits import derive_seed
from runtime.executors import make_executor
from runtime.kernels import PhaseContext, StopRequested
from runtime.svf.cem import CemResult, CemSettings, cem
from runtime.svf.classify import classification_accuracy, classify
from runtime.svf.evaluations import EvaluationLog
from runtime.svf.evaluator import MixEvaluator
from runtime.svf.nsga import NsgaSettings, Point, choose, pareto_front, search
from runtime.svf.scoring import encode_questions


def classifier_accuracy(model, tokenizer, questions, skills: Sequence[str],
                        batch_size: int) -> float:
    """How often the model picks each question's own skill (questions of ``skills``)."""
    picked = classify(model, tokenizer, [q.prompt for q in questions], skills, batch_size)
    return classification_accuracy(picked, [q.family for q in questions])


def make_evaluator(model, factors, experts, domain_questions, other_questions, tokenizer,
                   batch_size: int, latency: bool = False) -> MixEvaluator:
    """A mix evaluator over its own copy of ``model`` (float, base weights)."""
    return MixEvaluator(copy.deepcopy(model), dict(factors), list(experts),
                        encode_questions(domain_questions, tokenizer),
                        encode_questions(other_questions, tokenizer) if other_questions else None,
                        batch_size, latency)


@dataclass
class Runner:
    """Evaluates batches of candidates on the executor, logged, honouring stop requests."""

    ctx: PhaseContext
    evaluator: MixEvaluator
    executor: object
    log: EvaluationLog
    what: str

    def __call__(self, candidates: list[list[float]]) -> list[dict]:
        def run(fresh: list[list[float]]) -> list[dict]:
            return self.executor.map(self.evaluator, fresh)

        if self.ctx.should_stop():
            raise StopRequested(f"{self.ctx.phase} stopped in the {self.what} search after "
                                f"{len(self.log.entries)} evaluations")
        return self.log.evaluate(candidates, run)


def run_searches(ctx: PhaseContext, params, evaluator: MixEvaluator, n_experts: int,
                 mixing: MixEvaluator, progress) -> tuple[CemResult, list[Point], int]:
    """CEM on the mixing questions, then NSGA-II: (CEM result, every evaluated point,
    evaluations replayed from the log)."""
    executor = make_executor(params.executor)
    try:
        cem_log = EvaluationLog(ctx.checkpoint_dir, "cem")
        m = params.mixing
        cem_result = cem(Runner(ctx, mixing, executor, cem_log, "CEM"), n_experts,
                         CemSettings(m.cem_population, m.elite_fraction, m.iterations,
                                     derive_seed("experts", ctx.seed, "cem")),
                         on_iteration=lambda i, s: progress("cem", (i + 1) / m.iterations))
        n = params.nsga2
        settings = NsgaSettings(n.population, n.evaluations, n.crossover_eta, n.mutation_eta,
                                tuple(n.objectives), derive_seed("experts", ctx.seed, "nsga2"))
        nsga_log = EvaluationLog(ctx.checkpoint_dir, "nsga2")
        points = search(Runner(ctx, evaluator, executor, nsga_log, "NSGA-II"), n_experts,
                        settings, cem_result.best,
                        on_generation=lambda g: progress("nsga2", (g + 1) / settings.generations))
    finally:
        executor.close()
    return cem_result, points, cem_log.replayed + nsga_log.replayed


def front_and_choice(points: Sequence[Point], objectives: Sequence[str]) -> tuple[list[Point], Point]:
    """The Pareto front of every evaluated point and the point the choice rule picks."""
    front = pareto_front(points, objectives)
    return front, choose(front)
