"""``forge generate``: which model MODEL names, the prompt format, clear refusals."""

from __future__ import annotations

import json

import pytest
import torch
from model_workspace import build_workspace, model_dirs

from runtime import model_commands
from runtime.generate import format_prompt
from runtime.model_lookup import ModelNotFound, find_model
from runtime.phases.toolkit.inputs import load_tokenizer
from runtime.registry import ModelRegistry


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    return model_dirs(tmp_path_factory)


@pytest.fixture
def ws(tmp_path, dirs):
    workspace = tmp_path / "ws"
    ids = build_workspace(workspace, *dirs)
    return workspace, ids


def test_model_is_found_by_id_prefix_phase_and_directory(ws, dirs):
    workspace, ids = ws
    by_id = find_model(str(ids["bitnet"]), workspace)
    assert by_id.entry["id"] == ids["bitnet"]
    assert by_id.path.parent.name == "artifacts" and (by_id.path / "config.json").is_file()
    assert find_model(by_id.entry["sha256"][:10], workspace).entry["id"] == ids["bitnet"]
    assert find_model("cognate", workspace).entry["id"] == ids["cognate"]
    assert find_model("bitnet", workspace).path == by_id.path
    assert find_model(str(dirs[0]), workspace).entry == {}


def test_unknown_ambiguous_and_empty_directories_are_clear_errors(ws, tmp_path, capsys):
    workspace, _ = ws
    with pytest.raises(ModelNotFound, match="no model 'nosuch'"):
        find_model("nosuch", workspace)
    with ModelRegistry(workspace) as registry:  # two models whose sha256 share "abc"
        prid = registry.start_phase_run("20261203-150000-a1b2c3", {
            "name": "x", "kind": "x", "cache_key": "k", "params": {}, "seed": 1,
            "estimate": {}}, 2)
        for digit in "12":
            registry.register_model(prid, "abc" + digit * 61, "r", 1, 1)
    with pytest.raises(ModelNotFound, match="ambiguous"):
        find_model("abc", workspace)
    with pytest.raises(ModelNotFound, match="phase `x` of the last run made 2 models"):
        find_model("x", workspace)  # the phase of those two: name one by id
    (tmp_path / "empty").mkdir()
    assert model_commands.generate(workspace, str(tmp_path / "empty"), "hi") == 2
    err = capsys.readouterr().err
    assert "holds no model: there is no config.json" in err and "Traceback" not in err
    assert model_commands.generate(workspace, "nosuch", "hi") == 2
    assert "no model 'nosuch'" in capsys.readouterr().err


def test_prompt_goes_through_the_chat_template_once(dirs):
    tokenizer = load_tokenizer(dirs[0])
    text = format_prompt(tokenizer, "What is 2 + 3?")
    assert text == "What is 2 + 3?<|sep|>"
    templated = tokenizer.apply_chat_template([{"role": "user", "content": "What is 2 + 3?"}],
                                              add_generation_prompt=True, return_dict=True)
    assert tokenizer(text)["input_ids"] == templated["input_ids"]  # one <|bos|>, one <|sep|>
    assert format_prompt(tokenizer, "What is 2 + 3?", raw=True) == "What is 2 + 3?"


@pytest.mark.parametrize("phase", ["cognate", "bitnet"])  # float and forge_ternary
def test_generate_prints_the_greedy_answer(ws, phase, capsys):
    workspace, ids = ws
    assert model_commands.generate(workspace, phase, "What is 2 + 3?", max_new_tokens=5,
                                   json=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model_id"] == ids[phase] and out["input"] == "What is 2 + 3?<|sep|>"
    assert out["tool_calls"] == 0 and isinstance(out["answer"], str)
    # greedy: the same command gives the same answer, and plain output is the answer
    assert model_commands.generate(workspace, str(ids[phase]), "What is 2 + 3?",
                                   max_new_tokens=5) == 0
    assert capsys.readouterr().out == out["answer"] + "\n"


def test_forge_generate_from_the_command_line(dirs, tmp_path, capsys):
    from forgelang.cli import main

    args = ["generate", str(dirs[1]), "What is 2 + 3?", "--max-new-tokens", "3",
            "--workspace", str(tmp_path / "ws")]
    assert main(args) == 0
    answer = capsys.readouterr().out
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["answer"] + "\n" == answer
    assert main(["generate", str(dirs[1]), "hi", "--max-new-tokens", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["generate", str(dirs[1]), "hi", "--device", "cuda"]) == 2
        assert "--device cuda: not available" in capsys.readouterr().err
