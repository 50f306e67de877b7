"""NSGA-II over expert mixes with pymoo (Deb et al. 2002; ``pymoo.algorithms.moo.nsga2``).

A candidate is one mixing weight in [0, 1] per expert. pymoo's NSGA-II (SBX crossover,
polynomial mutation, duplicate elimination) runs in ask-and-tell form, one generation of
``population`` candidates at a time, so the evaluations can fan out through an executor
and be logged (``runtime.svf.evaluations``) for an exact resume. The first generation is
given: the base (all 0), each expert alone, the CEM result, then seeded uniform mixes.

Objectives (pymoo minimises): ``accuracy`` and ``retention`` are maximised (negated),
``latency`` and ``experts`` minimised. The front is the non-dominated set of every
evaluated candidate, in evaluation order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from runtime.svf.evaluations import Candidate, Result
from runtime.svf.evaluator import active_weights

# objective -> (result entry, sign for minimisation)
OBJECTIVES: dict[str, tuple[str, float]] = {
    "accuracy": ("accuracy", -1.0),
    "retention": ("other_accuracy", -1.0),
    "latency": ("latency", 1.0),
    "experts": ("experts", 1.0),
}
CHOICE_RULE = ("the front's highest accuracy; ties: higher retention (other skills' accuracy), "
               "fewer experts, smaller summed mixing weight (nearer the base), earlier "
               "evaluation")


@dataclass(frozen=True)
class NsgaSettings:
    """Population, evaluation budget, SBX / mutation indices, objectives and seed."""

    population: int
    evaluations: int
    crossover_eta: float
    mutation_eta: float
    objectives: tuple[str, ...]
    seed: int

    @property
    def generations(self) -> int:
        """Generations that fit the budget (at least one)."""
        return max(1, self.evaluations // self.population)


@dataclass(frozen=True)
class Point:
    """One evaluated mix: its weights, what was measured, its evaluation index."""

    x: list[float]
    result: Result
    index: int


def first_generation(n_experts: int, population: int, cem_best: Sequence[float],
                     seed: int) -> np.ndarray:
    """(population, K): base, each expert alone, the CEM mix, then seeded uniform mixes."""
    rows = [np.zeros(n_experts)] + list(np.eye(n_experts)) + [np.clip(cem_best, 0, 1)]
    rng = np.random.default_rng(seed)
    while len(rows) < population:
        rows.append(rng.random(n_experts))
    return np.array(rows[:population], dtype=float)


def objective_vector(result: Result, objectives: Sequence[str]) -> list[float]:
    """The minimised objective values of a result."""
    return [OBJECTIVES[o][1] * result[OBJECTIVES[o][0]] for o in objectives]


def search(evaluate: Callable[[list[Candidate]], list[Result]], n_experts: int,
           settings: NsgaSettings, cem_best: Sequence[float],
           on_generation: Callable[[int], None] = lambda g: None) -> list[Point]:
    """Run NSGA-II for ``settings.generations`` generations; every evaluated point."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.evaluator import Evaluator
    from pymoo.core.problem import Problem
    from pymoo.core.termination import NoTermination
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.problems.static import StaticProblem

    problem = Problem(n_var=n_experts, n_obj=len(settings.objectives), xl=0.0, xu=1.0)
    algorithm = NSGA2(pop_size=settings.population,
                      sampling=first_generation(n_experts, settings.population, cem_best,
                                                settings.seed),
                      crossover=SBX(eta=settings.crossover_eta, prob=0.9),
                      mutation=PM(eta=settings.mutation_eta), eliminate_duplicates=True)
    algorithm.setup(problem, termination=NoTermination(), seed=settings.seed % 2**32,
                    verbose=False)
    points: list[Point] = []
    for generation in range(settings.generations):
        population = algorithm.ask()
        xs = population.get("X").tolist()
        results = evaluate(xs)
        points += [Point(x, r, len(points) + i) for i, (x, r) in enumerate(zip(xs, results, strict=True))]
        f = np.array([objective_vector(r, settings.objectives) for r in results], dtype=float)
        Evaluator().eval(StaticProblem(problem, F=f), population)
        algorithm.tell(infills=population)
        on_generation(generation)
    return points


def pareto_front(points: Sequence[Point], objectives: Sequence[str]) -> list[Point]:
    """The non-dominated points (pymoo's non-dominated sorting), in evaluation order."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    f = np.array([objective_vector(p.result, objectives) for p in points], dtype=float)
    front = NonDominatedSorting().do(f, only_non_dominated_front=True)
    return [points[i] for i in sorted(int(i) for i in front)]


def choose(front: Sequence[Point]) -> Point:
    """The point ``CHOICE_RULE`` picks."""
    def key(p: Point):
        r = p.result
        return (-r["accuracy"], -r.get("other_accuracy", 0.0), r["experts"],
                sum(active_weights(p.x)), p.index)
    return min(front, key=key)
