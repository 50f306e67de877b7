"""Dream consolidation: the step plan (replay rounds every `every` new questions and after
the last), the seeded reservoir and its draws."""

from __future__ import annotations

import pytest

from runtime.curriculum.replay import NEW, REPLAY, QuestionRef, ReplayBuffer, plan_steps


def test_the_plan_trains_every_question_once_and_replays_at_the_ratio():
    steps = plan_steps(160, 8, replay_ratio=0.25, every=40, dreams=True)
    assert sum(s.count for s in steps if s.kind == NEW) == 160
    assert sum(s.count for s in steps if s.kind == REPLAY) == 40
    kinds = [s.kind for s in steps]
    assert kinds[:5] == [NEW] * 5 and kinds[5:7] == [REPLAY] * 2  # after 40 new questions
    assert all(s.count <= 8 for s in steps)


def test_a_final_round_consolidates_what_came_after_the_last_one():
    steps = plan_steps(20, 8, replay_ratio=0.5, every=1000, dreams=True)
    assert [(s.kind, s.count) for s in steps] == [(NEW, 8), (NEW, 8), (NEW, 4), (REPLAY, 8),
                                                  (REPLAY, 2)]


def test_no_dreams_no_replay():
    steps = plan_steps(20, 8, replay_ratio=0.5, every=4, dreams=False)
    assert {s.kind for s in steps} == {NEW}


def test_the_reservoir_keeps_a_uniform_sample_of_everything_seen():
    buffer = ReplayBuffer(50, seed=1)
    for i in range(1000):
        buffer.add(QuestionRef(i, 1 + i // 100, False))
    assert len(buffer.items) == 50 and buffer.seen == 1000
    early = sum(r.index < 500 for r in buffer.items)
    assert 12 <= early <= 38  # about half come from the first half (binomial 50, 0.5)


def test_draws_are_seeded_and_without_repeats():
    buffer = ReplayBuffer(10, seed=2)
    for i in range(10):
        buffer.add(QuestionRef(i, 1, i % 2 == 0))
    first = buffer.sample(6, draw=0)
    assert buffer.sample(6, draw=0) == first and len(set(first)) == 6
    assert buffer.sample(6, draw=1) != first
    copy = ReplayBuffer(10, seed=2)
    copy.load_state_dict(buffer.state_dict())
    assert copy.sample(6, draw=0) == first
    with pytest.raises(ValueError):
        ReplayBuffer(3, seed=0).sample(1, 0)
    with pytest.raises(ValueError):
        ReplayBuffer(3, seed=0).load_state_dict(buffer.state_dict())
