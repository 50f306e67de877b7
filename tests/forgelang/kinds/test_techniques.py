"""Merge technique parsing: bare names, typed blocks, unknown names with did-you-mean."""

import pytest
from pydantic import ValidationError

from forgelang.kinds import KINDS, TECHNIQUES
from forgelang.kinds.techniques import Dare, Ties

EVO = KINDS.get("evomerge").params


def test_registry_names_cover_the_design():
    assert set(TECHNIQUES.names()) >= {"linear", "slerp", "ties", "dare", "task_arithmetic",
                                       "frankenmerge", "dfs"}


def test_bare_name_means_defaults():
    t = TECHNIQUES.parse("ties")
    assert isinstance(t, Ties) and t.density == 0.2 and t.lambda_ == 1.0
    assert TECHNIQUES.parse("dare").drop == 0.9
    assert TECHNIQUES.parse("dfs").repeats == 3


def test_typed_block_overrides_and_lambda_alias():
    t = TECHNIQUES.parse({"type": "dare", "drop": 0.5, "combine": "ties", "lambda": 0.7})
    assert isinstance(t, Dare) and (t.drop, t.combine, t.lambda_) == (0.5, "ties", 0.7)
    assert t.model_dump()["lambda"] == 0.7  # serialised under the name users write


def test_unknown_name_raises_value_error_with_hint():
    with pytest.raises(ValueError) as exc:
        TECHNIQUES.parse("slurp")
    assert str(exc.value).startswith("unknown merge technique")
    assert "did you mean `slerp`" in str(exc.value)


def test_unknown_name_inside_params_maps_to_list_index():
    with pytest.raises(ValidationError) as exc:
        EVO.model_validate({"techniques": ["linear", "tise"]})
    err = exc.value.errors()[0]
    assert err["loc"] == ("techniques", 1) and err["type"] == "value_error"
    assert err["msg"].removeprefix("Value error, ").startswith("unknown merge technique")
    assert "`ties`" in err["msg"]


def test_bad_technique_field_has_nested_loc():
    with pytest.raises(ValidationError) as exc:
        EVO.model_validate({"techniques": [{"type": "ties", "density": 0}]})
    assert ("techniques", 0, "density") in [tuple(e["loc"]) for e in exc.value.errors()]
    with pytest.raises(ValidationError) as exc:
        EVO.model_validate({"techniques": [{"type": "slerp", "tt": 0.1}]})
    assert ("techniques", 0, "tt") in [tuple(e["loc"]) for e in exc.value.errors()]


def test_techniques_round_trip_through_plan_json():
    p = EVO.model_validate({"techniques": ["linear", {"type": "ties", "density": 0.3},
                                           {"type": "frankenmerge",
                                            "slices": [{"model": 1, "start": 0, "end": 2}]}]})
    data = p.model_dump(mode="json")
    assert data["techniques"][1] == {"type": "ties", "density": 0.3, "lambda": 1.0}
    assert EVO.model_validate(data) == p
    with pytest.raises(ValidationError, match="greater than start"):
        EVO.model_validate({"techniques": [{"type": "frankenmerge",
                                            "slices": [{"start": 3, "end": 3}]}]})


def test_json_schema_lists_every_technique():
    schema = str(EVO.model_json_schema())
    for name in TECHNIQUES.names():
        assert f"'{name}'" in schema
