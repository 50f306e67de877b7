"""MergeRequest, the registry and settings validation."""

from __future__ import annotations

import json

import pytest

from forgelang.kinds.techniques import TECHNIQUES
from runtime.merge import MERGES, MergeRequest, resolved_settings


def test_all_techniques_registered_and_known_to_the_language():
    expected = {"linear", "slerp", "task_arithmetic", "ties", "dare", "frankenmerge", "dfs"}
    assert set(MERGES.names()) == expected
    assert expected <= set(TECHNIQUES.names())


def test_unknown_technique_suggests_the_closest():
    with pytest.raises(ValueError, match="did you mean `ties`"):
        MERGES.get("tiess")


def test_json_round_trip_is_plain_json():
    req = MergeRequest("dfs", {"repeats": 3}, weights=(0.5, 0.5), base="first",
                       path=((0, 0), (1, 1)), scales=(1.0, 0.5), seed=7)
    data = req.to_json()
    assert json.loads(json.dumps(data)) == data
    assert isinstance(data["path"][0], list)
    assert MergeRequest.from_json(json.loads(json.dumps(data))) == req


def test_from_technique_maps_lambda_and_slices():
    ties = TECHNIQUES.parse({"type": "ties", "density": 0.3, "lambda": 0.7})
    req = MergeRequest.from_technique(ties, weights=[1, 2], seed=3)
    assert req.settings == {"density": 0.3, "lambda": 0.7}
    assert req.weights == (1.0, 2.0) and req.seed == 3
    fm = TECHNIQUES.parse({"type": "frankenmerge",
                           "slices": [{"model": 0, "start": 0, "end": 2}, {"model": 1, "end": 3}]})
    assert MergeRequest.from_technique(fm).slices == ((0, 0, 2), (1, 0, 3))


def test_settings_get_defaults_and_are_validated():
    assert resolved_settings(MergeRequest("ties")) == {"density": 0.2, "lambda": 1.0}
    assert resolved_settings(MergeRequest("dare"))["combine"] == "linear"
    with pytest.raises(ValueError, match="density"):
        resolved_settings(MergeRequest("ties", {"density": 1.5}))
    with pytest.raises(ValueError, match="densty"):
        resolved_settings(MergeRequest("ties", {"densty": 0.5}))


def test_bad_base_is_rejected():
    with pytest.raises(ValueError, match="base"):
        MergeRequest("linear", base="median")
