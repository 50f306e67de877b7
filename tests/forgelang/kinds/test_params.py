"""Every kind's Params: defaults validate; bad values and unknown keys fail at the right loc."""

import pytest
from pydantic import ValidationError

from forgelang.kinds import KINDS
from forgelang.kinds.compression import CompressionParams, SeedLM
from forgelang.kinds.optimizer import OPTIMIZER_PRESETS, MuGrokfast

ALL = ["cognate", "evomerge", "quietstar", "bitnet", "curriculum", "baking", "experts",
       "compression"]


def locs(err: ValidationError) -> list[tuple]:
    return [tuple(e["loc"]) for e in err.errors()]


def test_all_eight_kinds_registered_with_version_and_metrics():
    assert KINDS.names() == ALL
    for name in ALL:
        kind = KINDS.get(name)
        assert kind.version == "1" and kind.metrics and kind.summary


@pytest.mark.parametrize("name", ALL)
def test_defaults_validate_and_round_trip_through_json(name):
    params_cls = KINDS.get(name).params
    p = params_cls()
    data = p.model_dump(mode="json")
    assert params_cls.model_validate(data) == p


@pytest.mark.parametrize("name", ALL)
def test_unknown_key_is_rejected_at_its_loc(name):
    with pytest.raises(ValidationError) as exc:
        KINDS.get(name).params.model_validate({"no_such_knob": 1})
    assert ("no_such_knob",) in locs(exc.value)
    assert exc.value.errors()[0]["type"] == "extra_forbidden"


@pytest.mark.parametrize("name,data,loc", [
    ("cognate", {"steps": 0}, ("steps",)),
    ("cognate", {"optimizer": {"momentum": 1.5}}, ("optimizer", "momentum")),
    ("cognate", {"architecture": {"type": "trm_titans_mag", "d_model": 4}},
     ("architecture", "d_model")),
    ("evomerge", {"population": 1}, ("population",)),
    ("evomerge", {"crossover_rate": 1.2}, ("crossover_rate",)),
    ("quietstar", {"coherence": {"semantic": -0.1}}, ("coherence", "semantic")),
    ("bitnet", {"packing": "3bit"}, ("packing",)),
    ("curriculum", {"threshold": 1.0}, ("threshold",)),
    ("curriculum", {"dream": {"replay_ratio": 2}}, ("dream", "replay_ratio")),
    ("baking", {"half_baking": 0}, ("half_baking",)),
    ("experts", {"mixing": {"elite_fraction": 0}}, ("mixing", "elite_fraction")),
    ("compression", {"retention_threshold": 1.5}, ("retention_threshold",)),
])
def test_out_of_range_fails_at_loc(name, data, loc):
    with pytest.raises(ValidationError) as exc:
        KINDS.get(name).params.model_validate(data)
    assert loc in locs(exc.value)


def test_nested_unknown_key_has_full_loc():
    with pytest.raises(ValidationError) as exc:
        KINDS.get("curriculum").params.model_validate({"tool_use": {"fractoin": 0.1}})
    assert ("tool_use", "fractoin") in locs(exc.value)


def test_cognate_cross_field_checks():
    cog = KINDS.get("cognate").params
    with pytest.raises(ValidationError, match="roles lists 3 roles for 2 models"):
        cog.model_validate({"models": 2})
    assert cog.model_validate({"models": 2, "roles": ["reasoning", "memory"]}).models == 2
    with pytest.raises(ValidationError, match="max_seq_len"):
        cog.model_validate({"architecture": "smoke", "seq_len": 256})
    with pytest.raises(ValidationError, match="even head size"):
        cog.model_validate({"architecture": {"type": "trm_titans_mag", "d_model": 96,
                                             "n_heads": 32}})  # head size 3


def test_architecture_accepts_preset_name_and_typed_block():
    cog = KINDS.get("cognate").params
    assert cog.model_validate({"architecture": "full"}).architecture.d_model == 512
    typed = cog.model_validate({"architecture": {"type": "trm_titans_mag", "d_model": 96}})
    assert typed.architecture.d_model == 96
    with pytest.raises(ValidationError, match="unknown architecture preset"):
        cog.model_validate({"architecture": "huge"})


def test_optimizer_presets_and_phase_defaults():
    assert KINDS.get("cognate").params().optimizer.muon_lr == 1e-3
    assert KINDS.get("cognate").params().optimizer.grokfast_lambda == 0.3
    rl = KINDS.get("quietstar").params().optimizer
    assert (rl.muon_lr, rl.kl_coefficient, rl.adam_lr) == (5e-4, 0.1, 1e-6)
    ste = KINDS.get("bitnet").params().optimizer
    assert ste.ste_mode is True and ste.grokfast_lambda == 2.0
    plain = MuGrokfast()
    assert (plain.momentum, plain.ns_steps, plain.grokfast_alpha, plain.qk_clip_tau) == \
        (0.95, 5, 0.98, 30.0)
    by_name = KINDS.get("cognate").params.model_validate({"optimizer": "mugrokfast_rl"})
    assert by_name.optimizer == MuGrokfast(**OPTIMIZER_PRESETS["mugrokfast_rl"])
    with pytest.raises(ValidationError, match="did you mean `mugrokfast_rl`"):
        KINDS.get("cognate").params.model_validate({"optimizer": "mugrokfast_r"})


def test_evomerge_selection_and_merge_mode():
    evo = KINDS.get("evomerge").params
    with pytest.raises(ValidationError, match="elitism"):
        evo.model_validate({"population": 4, "elitism": 4})
    with pytest.raises(ValidationError, match="tournament_size"):
        evo.model_validate({"population": 4, "tournament_size": 5})
    p = evo.model_validate({"fitness": 1, "mode": "merge",
                            "merge": {"technique": {"type": "slerp", "t": 0.3}}})
    assert p.fitness == "1" and p.merge.technique.t == 0.3 and p.candidates() == 1
    assert evo().candidates() == 8 + 49 * 6
    with pytest.raises(ValidationError):
        evo.model_validate({"fitness": True})


def test_data_source_is_suite_or_jsonl():
    cog = KINDS.get("cognate").params
    assert cog.model_validate({"data": "my/data.jsonl"}).data == "my/data.jsonl"
    with pytest.raises(ValidationError) as exc:
        cog.model_validate({"data": "wikipedia"})
    assert ("data",) in locs(exc.value)


def test_compression_stages_parse_and_report_bits():
    p = CompressionParams.model_validate({"stages": ["seedlm", {"type": "vptq", "vector_len": 4}]})
    assert [s.type for s in p.stages] == ["seedlm", "vptq"]
    assert SeedLM().bits_per_weight() == pytest.approx(4.0)  # (16 + 4 + 4*3) / 8
    assert SeedLM(block=12, latent=4).bits_per_weight() == pytest.approx(3.0)
    assert p.stages[1].bits_per_weight() == pytest.approx(16 / 4)
    with pytest.raises(ValidationError, match="did you mean `seedlm`"):
        CompressionParams.model_validate({"stages": ["seedlmm"]})
    with pytest.raises(ValidationError) as exc:
        CompressionParams.model_validate({"stages": [{"type": "seedlm", "latent": 8}]})
    assert ("stages", 0) in locs(exc.value)
