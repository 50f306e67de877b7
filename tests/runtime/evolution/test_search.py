"""The search loop with a fake evaluation: coverage, determinism, resume, champion, diversity."""

from __future__ import annotations

import pytest
from evolution_helpers import FakeEvaluate, fake_accuracy, space

from runtime.evolution import INPUT, EvolutionSearch, Measurement, SearchSettings
from runtime.evolution.checkpoint import STATE_FILE
from runtime.kernels import StopRequested
from runtime.phases.evomerge.fitness import fitness_function

FITNESS = "0.9 * accuracy + 0.1 * diversity"


def _search(tmp=None, settings=None, evaluate=None, log=None, stop=lambda: False, **kw):
    s = settings or SearchSettings(population=4, generations=4, elitism=1, tournament_size=2,
                                   mutation_rate=0.3, mutation_scale=0.2, seed=11)
    return EvolutionSearch(space(**kw), s, fitness_function(FITNESS), evaluate or FakeEvaluate(),
                           tmp, log=log or (lambda *a: None), should_stop=stop)


def test_first_population_covers_every_technique():
    search = _search()
    import numpy as np

    first = search.first_population(np.random.default_rng(0))
    assert len(first) == 6  # population 4 < 6 techniques: generation 0 grows to cover them
    assert [g.technique for g in first] == search.space.names
    bigger = _search(settings=SearchSettings(population=9, seed=1), names=("linear", "slerp"))
    assert [g.technique for g in bigger.first_population(np.random.default_rng(0))] == \
        ["linear", "slerp"] * 4 + ["linear"]


def test_same_seed_same_run_other_seed_differs():
    a, b = _search().run(), _search().run()
    assert a.champion == b.champion and a.final_population == b.final_population
    other = _search(settings=SearchSettings(population=4, generations=4, elitism=1,
                                            tournament_size=2, mutation_rate=0.3,
                                            mutation_scale=0.2, seed=12)).run()
    assert [c.genome for c in other.final_population] != [c.genome for c in a.final_population]


def test_fitness_is_the_expression_on_measured_metrics_and_champion_beats_parents():
    logged = []
    result = _search(log=lambda *a: logged.append(a)).run()
    for c in [*result.parents, *result.final_population, result.champion]:
        assert c.fitness == pytest.approx(0.9 * c.metrics["accuracy"] + 0.1 * c.metrics["diversity"])
        assert c.metrics["accuracy"] == fake_accuracy(c.genome)
    best_parent = max(p.fitness for p in result.parents)
    assert result.champion.fitness >= best_parent
    assert [p.genome.technique for p in result.parents] == [INPUT] * 3
    names = {name for name, _v, _g in logged}
    assert {"generation.best_fitness", "generation.mean_fitness", "generation.diversity",
            "technique.ties", "technique.dfs"} <= names
    assert sorted({g for _n, _v, g in logged}) == [0, 1, 2, 3]
    counts = [v for n, v, g in logged if n.startswith("technique.") and g == 2]
    assert sum(counts) == 4  # the technique mix counts the population


def test_elites_survive_unchanged_into_the_next_generation():
    search = _search()
    search.run()
    import numpy as np

    fit = [c.fitness for c in search.population]
    best = search.population[int(np.argmax(fit))].genome
    children = search.breed(np.random.default_rng(0))
    assert children[0] == best and len(children) == 4


def test_resume_after_a_stop_reaches_the_same_champion(tmp_path):
    whole = _search().run()
    evaluate = FakeEvaluate()
    generations_seen = []
    stopper = _search(tmp_path, evaluate=evaluate,
                      log=lambda n, v, g: generations_seen.append(g),
                      stop=lambda: bool(generations_seen) and max(generations_seen) >= 1)
    with pytest.raises(StopRequested):
        stopper.run()
    assert (tmp_path / STATE_FILE).exists()
    resumed_eval = FakeEvaluate()
    resumed = _search(tmp_path, evaluate=resumed_eval).run()
    assert min(g for g, _n in resumed_eval.calls) == 2  # generations 0-1 were not redone
    assert resumed.champion == whole.champion
    assert resumed.final_population == whole.final_population


def test_collapsed_population_gets_fresh_genomes():
    same = FakeEvaluate(lambda g: Measurement({"accuracy": fake_accuracy(g)}, ("a",) * 4))
    logged = []
    _search(evaluate=same, log=lambda *a: logged.append(a)).run()
    injected = [v for n, v, _g in logged if n == "generation.injected"]
    diversity = [v for n, v, _g in logged if n == "generation.diversity"]
    assert all(d == 0.0 for d in diversity)  # every member answers alike: collapsed
    assert all(v >= 1 for v in injected)


def test_fitness_naming_an_unmeasured_metric_is_a_clear_error():
    search = EvolutionSearch(space(), SearchSettings(population=2, generations=1, elitism=1,
                                                     tournament_size=2),
                             fitness_function("accuracy.arithmetic + 1"), FakeEvaluate())
    with pytest.raises(ValueError, match="accuracy.arithmetic"):
        search.run()
