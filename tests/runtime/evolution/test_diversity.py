"""Behavioural diversity: how differently members answer the same held-out examples."""

import pytest

from runtime.evolution import member_diversity, prediction_distance, prediction_diversity


def test_prediction_distance_is_the_fraction_of_differing_answers():
    assert prediction_distance(["a", "b", "c", "d"], ["a", "x", "c", "y"]) == 0.5
    with pytest.raises(ValueError):
        prediction_distance(["a"], ["a", "b"])
    with pytest.raises(ValueError):
        prediction_distance([], [])


def test_member_and_prediction_diversity():
    predictions = [["a", "b"], ["a", "b"], ["x", "y"]]
    assert member_diversity(predictions) == pytest.approx([0.5, 0.5, 1.0])
    assert prediction_diversity(predictions) == pytest.approx(2 / 3)
    assert prediction_diversity([["a", "b"]]) == 0.0
    assert prediction_diversity([]) == 0.0
