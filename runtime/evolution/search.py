"""The evolutionary search loop: generations of merges, scored on measured metrics.

Generation 0 holds ``max(population, techniques)`` genomes, one per enabled technique
at the recipe's settings first, then random ones; the input models themselves are
evaluated beside them (``input`` genomes) and compete for the champion, so the
champion is never worse than the best parent. Each later generation keeps the
``elitism`` fittest unchanged and fills the rest with children (tournament selection,
same-technique crossover, mutation). After scoring, when the population's mean
behavioural diversity is below ``diversity_floor``, the worst half of the non-elite
members are replaced by fresh random genomes (logged as ``generation.injected``).

Randomness: generation ``g`` draws everything from ``numpy.random.default_rng([seed,
g])``, and measurements are cached by genome, so a run resumed from the checkpoint
written after generation ``g`` repeats the uninterrupted run exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from runtime.evolution.checkpoint import discard_state, load_state, save_state
from runtime.evolution.diversity import DIVERSITY_FLOOR, member_diversity
from runtime.evolution.genome import Genome, input_genome
from runtime.evolution.operators import crossover, elites, mutate, tournament
from runtime.evolution.space import GenomeSpace
from runtime.kernels import StopRequested


@dataclass(frozen=True)
class SearchSettings:
    """The search's knobs (EvoMergeParams' fields) and its seed."""

    population: int = 8
    generations: int = 50
    elitism: int = 2
    tournament_size: int = 3
    mutation_rate: float = 0.1
    mutation_scale: float = 0.1
    crossover_rate: float = 0.7
    seed: int = 0
    diversity_floor: float = DIVERSITY_FLOOR

    @classmethod
    def from_params(cls, params, seed: int) -> SearchSettings:
        """From ``EvoMergeParams`` and the step's seed."""
        names = ("population", "generations", "elitism", "tournament_size", "mutation_rate",
                 "mutation_scale", "crossover_rate")
        return cls(**{n: getattr(params, n) for n in names}, seed=seed)


@dataclass(frozen=True)
class Measurement:
    """What running one candidate on the held-out examples gave."""

    metrics: dict[str, float]
    predictions: tuple[str, ...]

    def to_json(self) -> dict:
        return {"metrics": dict(self.metrics), "predictions": list(self.predictions)}

    @classmethod
    def from_json(cls, data: dict) -> Measurement:
        return cls(dict(data["metrics"]), tuple(data["predictions"]))


@dataclass(frozen=True)
class Candidate:
    """A scored genome: its measured metrics plus ``diversity`` and ``fitness``."""

    genome: Genome
    fitness: float
    metrics: dict[str, float]
    generation: int

    def to_json(self) -> dict:
        return {"genome": self.genome.to_json(), "fitness": self.fitness,
                "metrics": dict(self.metrics), "generation": self.generation}

    @classmethod
    def from_json(cls, data: dict) -> Candidate:
        return cls(Genome.from_json(data["genome"]), float(data["fitness"]),
                   dict(data["metrics"]), int(data["generation"]))


@dataclass
class SearchResult:
    """The champion (best of parents and every candidate), the scored parents, the cost."""

    champion: Candidate
    parents: list[Candidate]
    candidates: int
    final_population: list[Candidate] = field(default_factory=list)


Evaluate = Callable[[list[Genome], int], list[Measurement]]


def generation_rng(seed: int, generation: int) -> np.random.Generator:
    """The one random generator of ``generation``."""
    return np.random.default_rng([int(seed) % 2**63, int(generation)])


class EvolutionSearch:
    """Evolves merge genomes; see the module docstring.

    Args:
        space: techniques, bounds and the inputs' layout.
        settings: population size, generations, operator rates, seed.
        fitness: metrics (measured + ``diversity``) -> the number to maximise.
        evaluate: measures genomes (``input`` genomes = the input models); called with
            the genomes not measured yet and the generation index.
        checkpoint_dir: where the state is saved after every generation; None = nowhere.
        log: ``(name, value, generation)`` for the per-generation metrics.
        should_stop: polled after each checkpoint; True raises ``StopRequested``.
    """

    def __init__(self, space: GenomeSpace, settings: SearchSettings,
                 fitness: Callable[[dict], float], evaluate: Evaluate,
                 checkpoint_dir: Path | None = None,
                 log: Callable[[str, float, int], None] = lambda *a: None,
                 should_stop: Callable[[], bool] = lambda: False):
        self.space, self.settings, self.fitness = space, settings, fitness
        self.evaluate, self.checkpoint_dir = evaluate, checkpoint_dir
        self.log, self.should_stop = log, should_stop
        self.cache: dict[str, Measurement] = {}
        self.population: list[Candidate] = []
        self.parents: list[Candidate] = []
        self.best: Candidate | None = None

    # ---------------------------------------------------------------- the loop
    def run(self) -> SearchResult:
        """Run (or resume) the search; the champion after the last generation."""
        start = self._restore()
        if start == 0:
            rng = generation_rng(self.settings.seed, 0)
            self._generation(0, self.first_population(rng), rng)
            start = 1
        for g in range(start, self.settings.generations):
            rng = generation_rng(self.settings.seed, g)
            self._generation(g, self.breed(rng), rng)
        return SearchResult(self.best, self.parents, len(self.cache), list(self.population))

    def first_population(self, rng: np.random.Generator) -> list[Genome]:
        """Every enabled technique at the recipe's settings, then random genomes, round robin."""
        names = self.space.names
        size = max(self.settings.population, len(names))
        return [self.space.seed(names[i]) if i < len(names) else
                self.space.random(names[i % len(names)], rng) for i in range(size)]

    def breed(self, rng: np.random.Generator) -> list[Genome]:
        """The elites unchanged, then tournament-selected, crossed, mutated children."""
        s = self.settings
        fit = [c.fitness for c in self.population]
        genomes = [c.genome for c in self.population]
        out = [genomes[i] for i in elites(fit, s.elitism)]
        while len(out) < s.population:
            a = genomes[tournament(fit, s.tournament_size, rng)]
            if rng.random() < s.crossover_rate:
                a = crossover(a, genomes[tournament(fit, s.tournament_size, rng)], rng)
            out.append(mutate(a, self.space, s.mutation_rate, s.mutation_scale, rng))
        return out

    def _generation(self, g: int, genomes: list[Genome], rng: np.random.Generator) -> None:
        if g == 0:
            parents = [input_genome(i) for i in range(len(self.space.depths))]
            self._measure(genomes + parents, g)
            self.parents = self._score(parents, g)
            self.best = max(self.parents, key=lambda c: c.fitness)  # first best on ties
        else:
            self._measure(genomes, g)
        scored = self._score(genomes, g)
        injected = 0
        mean_div = float(np.mean([c.metrics["diversity"] for c in scored]))
        if mean_div < self.settings.diversity_floor:
            genomes, injected = self._inject(scored, rng)
            self._measure(genomes, g)
            scored = self._score(genomes, g)
        self.population = scored
        for c in scored:
            if c.fitness > self.best.fitness:
                self.best = c
        self._log(g, scored, injected)
        self._save(g)
        if self.should_stop() and g + 1 < self.settings.generations:
            raise StopRequested(f"evomerge stopped after generation {g + 1}/"
                                f"{self.settings.generations}")

    # ---------------------------------------------------------------- steps
    def _measure(self, genomes: Sequence[Genome], g: int) -> None:
        todo = list({x.key(): x for x in genomes if x.key() not in self.cache}.values())
        if not todo:
            return
        results = self.evaluate(todo, g)
        for genome, m in zip(todo, results, strict=True):
            self.cache[genome.key()] = m

    def _score(self, genomes: Sequence[Genome], g: int) -> list[Candidate]:
        """Diversity within ``genomes`` plus the fitness expression, for each genome."""
        measured = [self.cache[x.key()] for x in genomes]
        diversity = member_diversity([m.predictions for m in measured])
        out = []
        for genome, m, d in zip(genomes, measured, diversity, strict=True):
            metrics = {**m.metrics, "diversity": d}
            fitness = float(self.fitness(metrics))
            out.append(Candidate(genome, fitness, {**metrics, "fitness": fitness}, g))
        return out

    def _inject(self, scored: list[Candidate], rng) -> tuple[list[Genome], int]:
        """Replace the worst half of the non-elite members by random genomes."""
        order = elites([c.fitness for c in scored], len(scored))  # best first
        non_elite = order[self.settings.elitism:]
        count = max(1, len(non_elite) // 2) if non_elite else 0
        genomes = [c.genome for c in scored]
        names = self.space.names
        for i in non_elite[len(non_elite) - count:]:
            genomes[i] = self.space.random(names[int(rng.integers(len(names)))], rng)
        return genomes, count

    def _log(self, g: int, scored: list[Candidate], injected: int) -> None:
        fit = [c.fitness for c in scored]
        self.log("generation.best_fitness", max(fit), g)
        self.log("generation.mean_fitness", float(np.mean(fit)), g)
        self.log("generation.diversity", float(np.mean([c.metrics["diversity"] for c in scored])), g)
        self.log("generation.champion_fitness", self.best.fitness, g)
        self.log("generation.injected", float(injected), g)
        for name in self.space.names:
            self.log(f"technique.{name}", float(sum(c.genome.technique == name for c in scored)), g)

    # ---------------------------------------------------------------- checkpoint
    def _save(self, g: int) -> None:
        if self.checkpoint_dir is None:
            return
        save_state(self.checkpoint_dir, {
            "generation": g, "population": [c.to_json() for c in self.population],
            "parents": [c.to_json() for c in self.parents], "best": self.best.to_json(),
            "cache": {k: m.to_json() for k, m in self.cache.items()}})

    def _restore(self) -> int:
        """Load the checkpoint if any; the generation to run next (0 = start afresh)."""
        state = load_state(self.checkpoint_dir)
        if state is None:
            return 0
        try:
            self.cache = {k: Measurement.from_json(m) for k, m in state["cache"].items()}
            self.population = [Candidate.from_json(c) for c in state["population"]]
            self.parents = [Candidate.from_json(c) for c in state["parents"]]
            self.best = Candidate.from_json(state["best"])
            return int(state["generation"]) + 1
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            discard_state(self.checkpoint_dir, f"malformed state: {err!r}")
            self.cache, self.population, self.parents, self.best = {}, [], [], None
            return 0
