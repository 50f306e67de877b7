"""The search checkpoint is hash-verified: a damaged one is set aside, never used."""

from __future__ import annotations

import json

import pytest
from evolution_helpers import FakeEvaluate, space

from runtime.evolution import EvolutionSearch, SearchSettings
from runtime.evolution.checkpoint import STATE_FILE
from runtime.kernels import StopRequested
from runtime.phases.evomerge.fitness import fitness_function

SETTINGS = SearchSettings(population=4, generations=4, elitism=1, tournament_size=2,
                          mutation_rate=0.3, mutation_scale=0.2, seed=11)


def _search(tmp, evaluate, log=lambda *a: None, stop=lambda: False):
    return EvolutionSearch(space(), SETTINGS, fitness_function("0.9 * accuracy + 0.1 * diversity"),
                           evaluate, tmp, log=log, should_stop=stop)


def _stopped_after_generation_one(tmp_path):
    seen = []
    with pytest.raises(StopRequested):
        _search(tmp_path, FakeEvaluate(), log=lambda n, v, g: seen.append(g),
                stop=lambda: bool(seen) and max(seen) >= 1).run()
    assert (tmp_path / STATE_FILE).exists()


def test_an_edited_checkpoint_restarts_the_search_and_reaches_the_same_champion(tmp_path):
    whole = _search(None, FakeEvaluate()).run()
    _stopped_after_generation_one(tmp_path)
    path = tmp_path / STATE_FILE
    state = json.loads(path.read_text())
    # a hand-edited champion's fitness: a checkpoint taken on trust would hand it over
    state["tree"]["__dict__"] = [[k, v] for k, v in state["tree"]["__dict__"]]
    path.write_text(json.dumps(state).replace('"fitness", ', '"fitness", 99.0, "x", ', 1))
    evaluate = FakeEvaluate()
    with pytest.warns(UserWarning, match="starts again from generation 0"):
        resumed = _search(tmp_path, evaluate).run()
    assert min(g for g, _n in evaluate.calls) == 0  # nothing was taken from the bad file
    assert resumed.champion == whole.champion
    assert (tmp_path / "evomerge_state.bad.json").exists()


def test_a_truncated_checkpoint_restarts_the_search(tmp_path):
    whole = _search(None, FakeEvaluate()).run()
    _stopped_after_generation_one(tmp_path)
    path = tmp_path / STATE_FILE
    path.write_bytes(path.read_bytes()[: 40])
    with pytest.warns(UserWarning, match="starts again"):
        resumed = _search(tmp_path, FakeEvaluate()).run()
    assert resumed.champion == whole.champion
