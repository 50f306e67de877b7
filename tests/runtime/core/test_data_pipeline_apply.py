"""The issue's case end to end (issue 21, "One dataset through the pipeline"): a user's
JSONL on cognate only, evomerge on the suite, lineage flags the comparison; with the
recipe's `data`, evomerge measures on the file too and lineage has nothing to flag."""

from __future__ import annotations

import json

import pytest

from runtime import commands

RECIPE = """forge 1
recipe "mine" {{
  seed = 3
  device = cpu
  data = "mine.jsonl"
  tracking {{ wandb = disabled }}
}}
phase cognate {{
  models = 2
  roles = [reasoning, memory]
  pretrain_steps = 2
  steps = 2
  batch_size = 2
  seq_len = 64
  warmup_steps = 1
  architecture = smoke
  eval {{ examples = 4  max_new_tokens = 2  batch_size = 4 }}
}}
phase evomerge {{
  population = 2
  generations = 1
  elitism = 1
  tournament_size = 2
  techniques = [linear]
  eval {{ examples = 4  max_new_tokens = 2  batch_size = 4 }}
  {evomerge}
}}
"""


def _write_data(path) -> None:
    from runtime.data.example import Example
    from runtime.data.jsonl import save_jsonl

    save_jsonl([Example(f"q{i} {fam}?", f"a{i % 7}", fam) for i in range(120)
                for fam in ("arithmetic", "memory")], path)


def _show(ws, capsys) -> dict:
    capsys.readouterr()
    assert commands.show(workspace=str(ws), json=True) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_one_dataset_through_cognate_and_evomerge(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FORGE_THREADS", "1")
    _write_data(tmp_path / "mine.jsonl")
    ws, recipe = tmp_path / "ws", tmp_path / "mine.forge"

    recipe.write_text(RECIPE.format(evomerge="data = suite"))  # the mixed case
    assert commands.apply(str(recipe), workspace=str(ws)) == 0
    cognate, evomerge = _show(ws, capsys)["phases"]
    mine = cognate["data"]
    assert mine.startswith("file:mine.jsonl@") and evomerge["data"] == "suite"
    assert {m["data"] for m in cognate["models"]} == {mine}
    (champion,) = evomerge["models"]
    capsys.readouterr()
    assert commands.lineage(str(ws), str(champion["id"])) == 0
    assert "measured on other data" in " ".join(capsys.readouterr().out.split())

    recipe.write_text(RECIPE.format(evomerge=""))  # evomerge inherits the recipe's file
    assert commands.apply(str(recipe), workspace=str(ws)) == 0
    cognate, evomerge = _show(ws, capsys)["phases"]
    assert cognate["status"] == "cached" and evomerge["data"] == mine
    (champion,) = evomerge["models"]
    assert {k for k in champion["metrics"] if k.count(".") == 1 and k.startswith("accuracy.")} \
        <= {"accuracy.arithmetic", "accuracy.memory"}  # the file's held-out lines, no suite
    capsys.readouterr()
    assert commands.lineage(str(ws), str(champion["id"]), json=True) == 0
    tree = json.loads(capsys.readouterr().out)
    assert tree["data"] == mine
    assert all(p["same_data_as_child"] is True for p in tree["parents"])
