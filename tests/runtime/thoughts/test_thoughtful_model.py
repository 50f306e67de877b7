"""ThoughtfulLM: the mixing head saved beside an ordinary model directory, and loaded back."""

from __future__ import annotations

import json

import pytest
import torch

from runtime.thoughts.head import MixingHead
from runtime.thoughts.model import (
    CONFIG,
    WEIGHTS,
    ThoughtfulLM,
    has_thoughts,
    load_head,
    read_config,
)


def save(directory, model, tokenizer, tokens, head, temperature=0.7):
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    ThoughtfulLM(model, head, tokens, temperature=temperature).save_thoughts(directory)
    return directory


@pytest.fixture(scope="module")
def examples():
    from runtime.data import make_split

    return make_split(["arithmetic"], 4, 0, "heldout", levels=[1])


def test_a_saved_head_loads_back(model, make_head, tokenizer, tokens, tmp_path):
    head = make_head(model)
    assert not has_thoughts(tmp_path)
    save(tmp_path, model, tokenizer, tokens, head)
    assert has_thoughts(tmp_path) and (tmp_path / WEIGHTS).is_file()
    loaded = ThoughtfulLM.from_pretrained(tmp_path)
    assert loaded.head.state_dict().keys() == head.state_dict().keys()
    for name, value in head.state_dict().items():
        assert torch.equal(loaded.head.state_dict()[name], value), name
    assert loaded.tokens == tokens and loaded.temperature == 0.7 and loaded.mode == "thoughts"
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.lm.state_dict()[name], value), name
    assert not loaded.lm.training
    chosen = ThoughtfulLM.from_pretrained(tmp_path, mode="none", temperature=2.0, seed=4)
    assert (chosen.mode, chosen.temperature, chosen.seed) == ("none", 2.0, 4)


def test_the_directory_still_loads_as_a_plain_model(model, fresh_head, tokenizer, tokens,
                                                    tmp_path):
    from transformers import AutoModelForCausalLM

    import runtime.nn  # noqa: F401  (registers the Cognate model with the Auto classes)

    save(tmp_path, model, tokenizer, tokens, fresh_head)
    plain = AutoModelForCausalLM.from_pretrained(tmp_path, local_files_only=True)
    assert type(plain) is type(model)
    for name, value in model.state_dict().items():
        assert torch.equal(plain.state_dict()[name], value), name


def test_evaluate_with_a_zero_head_answers_like_the_plain_model(model, fresh_head, tokenizer,
                                                                tokens, examples, tmp_path):
    from runtime.eval import evaluate

    thoughtful = ThoughtfulLM.from_pretrained(save(tmp_path, model, tokenizer, tokens,
                                                   fresh_head))
    with_thoughts = evaluate(thoughtful, tokenizer, examples, max_new_tokens=4)
    plain = evaluate(model, tokenizer, examples, max_new_tokens=4)
    assert [r.transcript for r in with_thoughts.records] == [r.transcript for r in plain.records]
    assert [r.prediction for r in with_thoughts.records] == [r.prediction for r in plain.records]
    assert with_thoughts.metrics == plain.metrics
    assert all(r.transcript for r in plain.records)  # something was generated


def test_an_unknown_mode_is_refused(model, fresh_head, tokens):
    with pytest.raises(ValueError, match="unknown thought mode"):
        ThoughtfulLM(model, fresh_head, tokens, mode="backwards")


def valid_config() -> dict:
    return {"format": "forge_quietstar", "version": 1, "thought_tokens": 3, "start_id": 4,
            "end_id": 5, "d_model": 32, "hidden": 16, "temperature": 1.0}


BAD_FIELDS = [
    {"format": "forge_merge"}, {"version": 2}, {"thought_tokens": 0}, {"thought_tokens": 10**9},
    {"thought_tokens": True}, {"d_model": True}, {"start_id": -1}, {"hidden": 2.5},
    {"hidden": None}, {"temperature": 0}, {"temperature": -1.0}, {"temperature": 11},
    {"temperature": "1"}, {"temperature": True},
]


@pytest.mark.parametrize("change", BAD_FIELDS, ids=lambda c: json.dumps(c))
def test_read_config_refuses_bad_fields(change, tmp_path):
    (tmp_path / CONFIG).write_text(json.dumps({**valid_config(), **change}))
    with pytest.raises(ValueError):
        read_config(tmp_path)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '"forge_quietstar"', "\xff\xfe"])
def test_read_config_refuses_what_is_not_a_config_object(text, tmp_path):
    (tmp_path / CONFIG).write_text(text, encoding="latin-1")
    with pytest.raises(ValueError):
        read_config(tmp_path)


def test_read_config_accepts_a_valid_config(tmp_path):
    (tmp_path / CONFIG).write_text(json.dumps(valid_config()))
    assert read_config(tmp_path) == valid_config()
    missing = {k: v for k, v in valid_config().items() if k != "hidden"}
    (tmp_path / CONFIG).write_text(json.dumps(missing))
    with pytest.raises(ValueError, match="hidden"):
        read_config(tmp_path)


def test_load_head_refuses_other_shapes(model, tmp_path):
    from safetensors.torch import save_file

    config = valid_config()
    assert config["d_model"] == 32  # the tiny models' width
    save_file(MixingHead(32, 8).state_dict(), str(tmp_path / WEIGHTS))
    with pytest.raises(ValueError, match="does not hold a mixing head"):
        load_head(tmp_path, config, model)
    save_file({"inner.weight": torch.zeros(16, 64)}, str(tmp_path / WEIGHTS))
    with pytest.raises(ValueError, match="does not hold a mixing head"):
        load_head(tmp_path, config, model)
    head = MixingHead(32, 16)
    save_file(head.state_dict(), str(tmp_path / WEIGHTS))
    assert torch.equal(load_head(tmp_path, config, model).inner.weight, head.inner.weight)


def test_marker_ids_must_match_the_tokenizer(model, fresh_head, tokenizer, tokens, tmp_path):
    save(tmp_path, model, tokenizer, tokens, fresh_head)
    config = json.loads((tmp_path / CONFIG).read_text())
    (tmp_path / CONFIG).write_text(json.dumps({**config, "start_id": tokens.start + 2}))
    with pytest.raises(ValueError, match="marker ids differ"):
        ThoughtfulLM.from_pretrained(tmp_path)


def test_a_head_of_another_width_than_the_model_is_refused(model, tmp_path):
    from safetensors.torch import save_file

    config = {**valid_config(), "d_model": 64}
    save_file(MixingHead(64, 16).state_dict(), str(tmp_path / WEIGHTS))
    with pytest.raises(ValueError, match="64-wide hidden states, the model's are 32 wide"):
        load_head(tmp_path, config, model)


def test_a_missing_or_oversized_config_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match=CONFIG):
        read_config(tmp_path)
    (tmp_path / CONFIG).write_text(" " * 70_000)
    with pytest.raises(ValueError, match=CONFIG):
        read_config(tmp_path)


def test_a_truncated_head_file_is_refused_naming_it(model, tmp_path):
    from safetensors.torch import save_file

    save_file(MixingHead(32, 16).state_dict(), str(tmp_path / WEIGHTS))
    data = (tmp_path / WEIGHTS).read_bytes()
    (tmp_path / WEIGHTS).write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=WEIGHTS):
        load_head(tmp_path, valid_config(), model)
