"""Behavioural diversity: how differently members answer the same held-out examples."""

import pytest

from runtime.evolution import member_diversity, prediction_distance


def test_prediction_distance_is_the_fraction_of_differing_answers():
    assert prediction_distance(["a", "b", "c", "d"], ["a", "x", "c", "y"]) == 0.5
    with pytest.raises(ValueError):
        prediction_distance(["a"], ["a", "b"])
    with pytest.raises(ValueError):
        prediction_distance([], [])


def test_member_diversity_is_the_mean_distance_to_every_other_member():
    predictions = [["a", "b"], ["a", "b"], ["x", "y"]]
    assert member_diversity(predictions) == pytest.approx([0.5, 0.5, 1.0])
    assert member_diversity([["a", "b"]]) == [0.0]
