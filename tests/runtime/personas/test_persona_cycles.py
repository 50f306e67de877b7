"""The A/B schedule: alternation, plateau detection on a cycle's own scores, stopping."""

from __future__ import annotations

from runtime.personas import CycleSchedule, plateaued


def run(schedule: CycleSchedule, scores: dict[str, list[float]]) -> list[str]:
    """The cycles the schedule runs when each cycle's iterations score as listed."""
    history: list[tuple[str, float]] = []
    while (cycle := schedule.next_cycle(history)) is not None:
        history.append((cycle, scores[cycle][sum(c == cycle for c, _ in history)]))
    return [c for c, _ in history]


def test_plateau_needs_window_plus_one_scores_and_compares_across_the_window():
    assert not plateaued([0.5, 0.5], window=2, min_delta=0.01)
    assert plateaued([0.5, 0.9, 0.505], window=2, min_delta=0.01)  # a gain of 0.005
    assert not plateaued([0.5, 0.1, 0.52], window=2, min_delta=0.01)
    assert plateaued([0.6, 0.5], window=1, min_delta=0.0)  # a loss is no progress


def test_cycles_alternate_while_both_progress():
    rising = [0.1 * k for k in range(10)]
    assert run(CycleSchedule(1, 0.01, 6), {"a": rising, "b": rising}) == list("ababab")


def test_a_plateaued_cycle_switches_to_the_other_for_good():
    flat, rising = [0.3] * 10, [0.1 * k for k in range(10)]
    # A: 0.3, 0.3 -> flat after its second run; then only B
    assert run(CycleSchedule(1, 0.01, 7), {"a": flat, "b": rising}) == list("ababbbb")
    assert run(CycleSchedule(1, 0.01, 7), {"a": rising, "b": flat}) == list("ababaaa")


def test_the_loop_stops_when_both_cycles_plateau():
    flat = [0.3] * 10
    assert run(CycleSchedule(2, 0.01, 20), {"a": flat, "b": flat}) == list("ababab")
    assert run(CycleSchedule(3, 0.01, 2), {"a": flat, "b": flat}) == list("ab")
