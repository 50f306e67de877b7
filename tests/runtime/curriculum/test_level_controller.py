"""The level controller keeps the rolling accuracy in threshold ± tolerance: up when above,
down when below, never before min_questions, within 1..levels; edge_level picks the start."""

from __future__ import annotations

import pytest

from runtime.curriculum.controller import ControllerSettings, LevelController, edge_level

SETTINGS = ControllerSettings(levels=5, threshold=0.75, tolerance=0.05, window=8, min_questions=8)


def test_moves_up_above_the_band_only_after_min_questions():
    c = LevelController(SETTINGS, 2)
    c.observe([True] * 4)
    assert c.level == 2  # 4 < min_questions
    c.observe([True] * 4)
    assert c.level == 3 and c.moves == [(8, 3)]
    assert c.rolling_accuracy is None and c.at_level == 0  # the new level starts afresh


def test_moves_down_below_the_band_and_stays_inside_it():
    c = LevelController(SETTINGS, 3)
    c.observe([False] * 8)
    assert c.level == 2
    c.observe([True, True, True, False] * 2)  # 0.75: inside the band
    assert c.level == 2
    c.observe([True, True, True, False] * 4)
    assert c.level == 2 and c.rolling_accuracy == pytest.approx(0.75)


def test_levels_are_bounded():
    top = LevelController(SETTINGS, 5)
    top.observe([True] * 8)
    assert top.level == 5 and not top.moves
    bottom = LevelController(SETTINGS, 1)
    bottom.observe([False] * 8)
    assert bottom.level == 1 and not bottom.moves
    with pytest.raises(ValueError):
        LevelController(SETTINGS, 6)


def test_a_simulated_learner_settles_at_its_edge():
    """Accuracy falls by 0.2 a level (1.0 at level 1): the controller must hover where the
    learner's accuracy is nearest 0.75 (levels 2 and 3: 0.8 and 0.6)."""
    c = LevelController(SETTINGS, 5)
    visited = []
    for step in range(400):
        rate = 1.0 - 0.2 * (c.level - 1)
        hits = round(rate * 10)  # a deterministic pattern with that accuracy
        c.observe([(step * 4 + i) % 10 < hits for i in range(4)])
        visited.append(c.level)
    assert set(visited[100:]) <= {2, 3}


def test_state_round_trips():
    c = LevelController(SETTINGS, 2)
    c.observe([True, False, True])
    copy = LevelController(SETTINGS, 1)
    copy.load_state_dict(c.state_dict())
    assert copy.state_dict() == c.state_dict()
    c.observe([True] * 8)
    copy.observe([True] * 8)
    assert copy.state_dict() == c.state_dict()
    with pytest.raises(ValueError):
        copy.load_state_dict({**c.state_dict(), "level": 9})


def test_edge_level_is_nearest_the_threshold_easiest_on_ties():
    assert edge_level({1: 1.0, 2: 0.8, 3: 0.5, 4: 0.0}, 0.75) == 2
    assert edge_level({1: 0.0, 2: 0.0, 3: 0.0}, 0.75) == 1
    assert edge_level({3: 0.7, 1: 0.8}, 0.75) == 1
    with pytest.raises(ValueError):
        edge_level({}, 0.75)
