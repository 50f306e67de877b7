"""``forge export``: a directory that loads with and without Agent Forge, with a true card."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from model_workspace import build_workspace, model_dirs

from runtime import model_commands
from runtime.artifacts import file_sha256
from runtime.export import export_model
from runtime.model_lookup import find_model
from runtime.phases.toolkit.inputs import load_model
from tests.subprocess_env import ROOT

IDS = [1, 20, 21, 22, 23, 24, 3]
ISOLATED = Path(__file__).with_name("isolated_load.py")


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    return model_dirs(tmp_path_factory)


@pytest.fixture
def ws(tmp_path, dirs):
    workspace = tmp_path / "ws"
    return workspace, build_workspace(workspace, *dirs)


def _logits(path: Path) -> torch.Tensor:
    with torch.no_grad():
        return load_model(path, "cpu")(torch.tensor([IDS])).logits[0]  # (T, V)


def _isolated(paths: list[Path], tmp_path: Path) -> dict:
    """Load ``paths`` in one ``python -I`` process with Agent Forge off the path."""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-I", str(ISOLATED), str(ROOT),
                           ",".join(map(str, IDS)), *map(str, paths)], capture_output=True,
                          text=True, timeout=300, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def exported(tmp_path_factory, dirs):
    """The cognate and the bitnet (forge_ternary) model exported, and what a process without
    Agent Forge saw when it loaded both (one subprocess: importing torch costs seconds)."""
    root = tmp_path_factory.mktemp("exported")
    workspace = root / "ws"
    build_workspace(workspace, *dirs)
    outs = {phase: root / phase for phase in ("cognate", "bitnet")}
    results = {}
    for phase, out in outs.items():
        results[phase] = export_model(find_model(phase, workspace), out, workspace)
    return workspace, outs, results, _isolated(list(outs.values()), root)


def test_cognate_export_loads_without_agent_forge_with_equal_logits(exported, dirs):
    workspace, outs, _, isolated = exported
    out = outs["cognate"]
    config = json.loads((out / "config.json").read_text())
    assert set(config["auto_map"]) == {"AutoConfig", "AutoModelForCausalLM"}
    for code in out.glob("*.py"):
        text = code.read_text()
        assert "from runtime" not in text and "import runtime" not in text, code.name
    assert file_sha256(out / "model.safetensors") == file_sha256(dirs[0] / "model.safetensors")
    assert not isolated["runtime_importable"] and not isolated["agent_forge_loaded"]
    report = isolated["reports"][0]
    assert report["class_module"].startswith("transformers_modules")
    # equal up to float32 summation order (the subprocess may use another thread count)
    torch.testing.assert_close(torch.tensor(report["logits"]), _logits(dirs[0]),
                               rtol=0, atol=1e-5)
    assert report["generated"][report["prompt_length"] - 1] == report["sep_id"]  # chat template
    # with Agent Forge installed, its own loader takes the export with the installed code
    loaded = load_model(out, "cpu")
    assert type(loaded).__module__ == "runtime.nn.model"
    assert model_commands.generate(workspace, str(out), "What is 2 + 3?", 3) == 0


def test_ternary_export_is_float_and_loads_without_agent_forge(exported, dirs):
    _, outs, results, isolated = exported
    assert results["bitnet"].stored_form == "forge_ternary"
    assert results["bitnet"].max_logit_diff == 0.0  # no activation bits: the same function
    assert "quantization_config" not in json.loads((outs["bitnet"] / "config.json").read_text())
    torch.testing.assert_close(torch.tensor(isolated["reports"][1]["logits"]), _logits(dirs[1]),
                               rtol=0, atol=1e-5)


def test_card_states_lineage_metrics_and_what_made_it(ws, tmp_path, capsys):
    workspace, ids = ws
    out = tmp_path / "export"
    assert model_commands.export(workspace, str(ids["bitnet"]), out, json=True) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["out_dir"] == str(out) and said["stored_form"] == "forge_ternary"
    card = (out / "README.md").read_text()
    assert f"model {ids['bitnet']}: phase `bitnet`" in card
    assert f"  - model {ids['cognate']}: phase `cognate`" in card  # the parent, indented
    assert "| accuracy | 0.0625 |" in card and "recipes/mine.forge" in card
    assert "| loss |" not in card and "per training step (in the workspace" in card
    assert "20261203-150000-a1b2c3" in card
    assert "forge_ternary" in card and "float weights" in card


def test_llama_export_is_a_byte_copy_without_remote_code(tmp_path, capsys):
    from tests.runtime.phases.kernel_inputs import llama_input

    source = llama_input(tmp_path / "llama").path
    out = tmp_path / "export"
    assert model_commands.export(tmp_path / "ws", str(source), out) == 0
    assert not list(out.glob("*.py"))
    assert "auto_map" not in json.loads((out / "config.json").read_text())
    assert file_sha256(out / "model.safetensors") == file_sha256(source / "model.safetensors")
    assert "no record in a workspace registry" in (out / "README.md").read_text()
    assert model_commands.generate(tmp_path / "ws", str(out), "What is 2 + 3?", 3) == 0


def test_an_occupied_target_is_refused_and_left_alone(ws, tmp_path, capsys):
    workspace, _ = ws
    out = tmp_path / "export"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert model_commands.export(workspace, "cognate", out) == 2
    assert "is not an empty directory" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    inside = tmp_path / "llama" / "export"
    from tests.runtime.phases.kernel_inputs import llama_input

    llama_input(tmp_path / "llama")
    assert model_commands.export(workspace, str(tmp_path / "llama"), inside) == 2
    assert "is inside the model directory" in capsys.readouterr().err and not inside.exists()
