"""Genetic operators and the genome space: selection, elitism, bounds, crossover, decoding."""

from __future__ import annotations

import numpy as np
import pytest
from evolution_helpers import space

from runtime.evolution import Genome, input_genome
from runtime.evolution.decode import dfs_path, used_inputs
from runtime.evolution.genome import runs_of
from runtime.evolution.operators import crossover, elites, mutate, tournament
from runtime.evolution.space import numeric_bounds


def test_tournament_picks_the_fitter():
    fitness = [0.1, 0.9, 0.5, 0.3]
    rng = np.random.default_rng(0)
    # a tournament over the whole population always returns the best
    assert {tournament(fitness, 4, rng) for _ in range(20)} == {1}
    # size 2: the worst member can never win; the winner beats the other entrant
    wins = [tournament(fitness, 2, rng) for _ in range(400)]
    assert 0 not in wins
    assert wins.count(1) > wins.count(3)


def test_elites_are_the_fittest_best_first():
    assert elites([0.2, 0.9, 0.5, 0.9], 3) == [1, 3, 2]


def test_mutation_stays_in_bounds():
    s = space(names=("slerp", "ties", "dare", "task_arithmetic", "frankenmerge", "dfs"))
    rng = np.random.default_rng(1)
    for name in s.names:
        g = s.random(name, rng)
        for _ in range(200):
            g = mutate(g, s, rate=0.9, scale=5.0, rng=rng)  # huge steps: only repair saves them
            numeric, categorical = s.genes(name)
            for key, (_f, lo, hi) in numeric.items():
                assert lo <= g.settings[key] <= hi, (name, key, g.settings[key])
            for key, (_f, choices) in categorical.items():
                assert g.settings[key] in choices
            assert all(0.0 <= w <= 1.0 for w in g.weights) and (not g.weights or sum(g.weights) > 0)
            assert all(0 <= m < 3 and 0 <= layer < 2 for m, layer in g.layers)
            assert all(0.0 <= v <= 2.0 for row in g.scales for v in row)
            if name == "dfs":
                assert dfs_path(s, g)[0], "a DFS path is never empty"
            if name == "slerp":
                assert len(set(g.members)) == 2


def test_bounds_come_from_the_forgelang_fields():
    s = space(ties={"density": 0.2})
    assert numeric_bounds(s.technique("ties"), "density") == pytest.approx((0.001, 1.0))
    assert numeric_bounds(s.technique("dare"), "drop") == pytest.approx((0.0, 0.999))
    # the recipe's setting is the starting point
    assert s.seed("ties").settings == {"density": 0.2, "lambda": 1.0}


def test_crossover_only_between_same_technique():
    s = space()
    rng = np.random.default_rng(2)
    a, b = s.random("ties", rng), s.random("dare", rng)
    assert crossover(a, b, rng) == a  # different techniques: a copy of the first parent
    c = s.random("ties", rng)
    children = [crossover(a, c, rng) for _ in range(30)]
    assert all(ch.technique == "ties" for ch in children)
    for ch in children:  # every gene comes from one of the parents
        assert all(ch.settings[k] in (a.settings[k], c.settings[k]) for k in ch.settings)
        assert all(w in (x, y) for w, x, y in zip(ch.weights, a.weights, c.weights, strict=True))
    assert any(ch not in (a, c) for ch in children)


def test_genome_json_round_trip_is_exact():
    s = space()
    rng = np.random.default_rng(3)
    for name in s.names:
        g = s.random(name, rng)
        assert Genome.from_json(g.to_json()) == g
        assert Genome.from_json(g.to_json()).key() == g.key()


def test_dfs_seed_is_exactly_model_a_and_frankenmerge_decodes_to_slices():
    s = space(depths=(2, 3, 2))
    path, scales = dfs_path(s, s.seed("dfs"))
    assert path == ((0, 0), (0, 1)) and scales == (1.0, 1.0)
    assert len(s.seed("dfs").indicator) == 7 * 3  # T = N * r
    assert runs_of(((0, 0), (0, 1), (1, 2), (1, 0))) == ((0, 0, 2), (1, 2, 3), (1, 0, 1))
    fixed = space(frankenmerge={"slices": [{"model": 1, "start": 0, "end": 2},
                                           {"model": 0, "start": 1, "end": 2}]})
    g = fixed.random("frankenmerge", np.random.default_rng(0))
    assert fixed.franken_slices(g) == ((1, 0, 2), (0, 1, 2))  # fixed slices are not searched
    assert used_inputs(fixed, g) == (0, 1)
    assert used_inputs(s, input_genome(2)) == (2,)
    linear = Genome("linear", weights=(0.0, 0.5, 0.0))
    ties = Genome("ties", {"density": 0.2, "lambda": 1.0}, weights=(0.0, 0.0, 0.5))
    assert used_inputs(s, linear) == (1,)
    assert used_inputs(s, ties, base="mean") == (0, 1, 2)  # the mean base uses every input
    assert used_inputs(s, ties, base="first") == (0, 2)
