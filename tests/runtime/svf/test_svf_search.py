"""CEM and pymoo NSGA-II over mixing weights, and the evaluation log that makes a resumed
search give the same result."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.svf.cem import CemSettings, cem
from runtime.svf.evaluations import EvaluationLog
from runtime.svf.nsga import NsgaSettings, Point, choose, first_generation, pareto_front, search


def toy(xs):
    """Accuracy peaks at (0.8, 0.2); other skills prefer small weights; experts counted."""
    out = []
    for x in xs:
        x = np.asarray(x)
        out.append({"accuracy": float(1 - ((x - [0.8, 0.2]) ** 2).sum()),
                    "other_accuracy": float(1 - x.sum() / 2),
                    "experts": float((x >= 0.05).sum())})
    return out


def test_cem_moves_towards_the_best_mix():
    result = cem(toy, 2, CemSettings(population=32, elite_fraction=0.2, iterations=8, seed=3))
    assert np.allclose(result.mean, [0.8, 0.2], atol=0.1)
    assert result.best_score > toy([[0.5, 0.5]])[0]["accuracy"]
    assert result.history[-1] >= result.history[0]


def _settings(**kw):
    base = dict(population=8, evaluations=40, crossover_eta=15, mutation_eta=20,
                objectives=("accuracy", "retention"), seed=11)
    return NsgaSettings(**{**base, **kw})


def test_nsga2_is_seeded_and_its_front_is_non_dominated():
    a = search(toy, 2, _settings(), [0.5, 0.5])
    b = search(toy, 2, _settings(), [0.5, 0.5])
    assert [p.x for p in a] == [p.x for p in b] and len(a) == 40
    assert a[0].x == [0.0, 0.0] and a[1].x == [1.0, 0.0] and a[2].x == [0.0, 1.0]
    front = pareto_front(a, ("accuracy", "retention"))
    for p in front:
        for q in a:
            better = (q.result["accuracy"] >= p.result["accuracy"]
                      and q.result["other_accuracy"] >= p.result["other_accuracy"])
            strictly = (q.result["accuracy"] > p.result["accuracy"]
                        or q.result["other_accuracy"] > p.result["other_accuracy"])
            assert not (better and strictly), (p, q)
    assert search(toy, 2, _settings(seed=12), [0.5, 0.5])[5].x != a[5].x


def test_the_choice_rule_takes_accuracy_then_retention_then_fewer_experts():
    points = [Point([0.5, 0.5], {"accuracy": 0.5, "other_accuracy": 0.2, "experts": 2}, 0),
              Point([0.0, 0.9], {"accuracy": 0.5, "other_accuracy": 0.2, "experts": 1}, 1),
              Point([0.0, 0.0], {"accuracy": 0.4, "other_accuracy": 0.9, "experts": 0}, 2)]
    assert choose(points).index == 1
    points[0].result["other_accuracy"] = 0.3
    assert choose(points).index == 0


def test_first_generation_holds_base_experts_and_cem():
    rows = first_generation(3, 8, [0.2, 0.3, 0.4], seed=1)
    assert rows.shape == (8, 3)
    assert np.array_equal(rows[0], np.zeros(3)) and np.array_equal(rows[1:4], np.eye(3))
    assert np.allclose(rows[4], [0.2, 0.3, 0.4]) and ((rows >= 0) & (rows <= 1)).all()


def test_a_resumed_search_replays_the_log_and_ends_identically(tmp_path):
    calls = []

    def counted(xs):
        calls.append(len(xs))
        return toy(xs)

    log = EvaluationLog(tmp_path, "nsga2")
    first = search(lambda xs: log.evaluate(xs, counted), 2, _settings(evaluations=16), [0.5, 0.5])
    assert sum(calls) == 16
    calls.clear()
    log = EvaluationLog(tmp_path, "nsga2")  # as after a kill: read back from the checkpoint
    resumed = search(lambda xs: log.evaluate(xs, counted), 2, _settings(), [0.5, 0.5])
    assert log.replayed == 16 and sum(calls) == 24
    straight = search(toy, 2, _settings(), [0.5, 0.5])
    assert [p.x for p in resumed] == [p.x for p in straight]
    assert [p.result for p in resumed] == [p.result for p in straight]
    assert [p.x for p in resumed[:16]] == [p.x for p in first]


def test_a_damaged_log_is_set_aside_and_the_search_starts_again(tmp_path):
    log = EvaluationLog(tmp_path, "cem")
    log.evaluate([[0.1, 0.2]], toy)
    for path in tmp_path.glob("cem*.safetensors"):
        path.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="cannot be used"):
        again = EvaluationLog(tmp_path, "cem")
    assert again.entries == []
