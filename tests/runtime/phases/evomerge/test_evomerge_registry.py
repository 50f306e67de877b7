"""EvoMerge's registry traces: input metrics on parent rows, lineage details, schema v2."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import save_file

from runtime.artifacts import ArtifactStore
from runtime.kernels import InputModel, ModelOutput, PhaseResult
from runtime.phase_runner import StepRun, execute
from runtime.registry import ModelRegistry, NewModel
from runtime.registry_schema import MIGRATIONS, SCHEMA_VERSION, _statements

STEP = {"name": "evomerge", "kind": "evomerge", "cache_key": "e" * 64, "params": {}, "seed": 1,
        "estimate": {}}


def _weights_dir(root: Path, value: float) -> Path:
    root.mkdir(parents=True)
    save_file({"w": torch.full((2, 2), value)}, str(root / "model.safetensors"))
    (root / "config.json").write_text("{}")
    return root


class _ReportingKernel:
    """Returns one output with lineage details and a measurement of each input."""

    def run(self, ctx, params, inputs):
        out = ModelOutput(role="champion", path=_weights_dir(ctx.work_dir / "out", 1.0),
                          metrics={"fitness": 0.75}, parents=(0,),
                          details={"technique": "ties", "request": {"weights": [1.0, 0.5]}})
        return PhaseResult(models=[out], metrics={"champion.fitness": 0.75},
                           input_metrics={0: {"fitness": 0.5, "diversity": 0.25},
                                          1: {"fitness": 0.9}})  # input 1 is external


def test_input_metrics_land_on_parent_rows_and_details_on_the_model(tmp_path):
    ws = tmp_path / "ws"
    store = ArtifactStore(ws)
    with ModelRegistry(ws) as reg:
        reg.create_session("run", {})
        first = reg.start_phase_run("run", {**STEP, "name": "cognate", "cache_key": "c" * 64}, 0)
        sha = store.put_dir(_weights_dir(tmp_path / "parent", 0.0))
        (parent_id,) = reg.complete_phase_run(first, [NewModel(sha, "reasoning", 4, 10,
                                                               metrics={"accuracy": 0.4})],
                                              {}, 0, 0.1)
        prid = reg.start_phase_run("run", STEP, 1)
        job = StepRun("run", prid, SimpleNamespace(**STEP), "cpu", ws, store,
                      lambda *a: None, lambda *a: None, threading.Event())
        inputs = [InputModel(store.path(sha), "reasoning", sha, parent_id, {"accuracy": 0.4}),
                  InputModel(tmp_path / "external", "external")]
        new, metrics, meter, input_metrics = execute(job, _ReportingKernel(), {}, inputs)
        # nothing of the phase is in the registry before it completes, input metrics included
        assert reg.show("run")["phases"][0]["models"][0]["metrics"] == {"accuracy": 0.4}
        reg.complete_phase_run(prid, new, metrics, 0, 0.1, input_metrics)
        shown = reg.show("run")
    parent = shown["phases"][0]["models"][0]
    assert parent["metrics"] == {"accuracy": 0.4, "fitness": 0.5, "diversity": 0.25}
    champion = shown["phases"][1]["models"][0]
    assert champion["details"] == {"technique": "ties", "request": {"weights": [1.0, 0.5]}}
    assert champion["parents"] == [parent_id] and parent["details"] == {}
    assert json.loads(json.dumps(shown))  # `forge show --json` can print it


def test_a_v1_registry_migrates_to_v2_keeping_its_models(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    conn = sqlite3.connect(ws / "registry.db", isolation_level=None)
    for statement in _statements(MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO runs (id, config, status, created_at, updated_at) "
                 "VALUES ('r', '{}', 'completed', 0, 0)")
    conn.execute("INSERT INTO phase_runs (run_id, name, kind, position, status, cache_key, params, "
                 "seed, estimate, started_at) VALUES ('r', 'a', 'cognate', 0, 'completed', 'k', "
                 "'{}', 0, '{}', 0)")
    conn.execute("INSERT INTO models (phase_run_id, sha256, role, params, size_bytes, "
                 "size_category, created_at) VALUES (1, 'ab', 'reasoning', 1, 1, 'tiny', 0)")
    conn.close()
    assert SCHEMA_VERSION >= 2  # and on through every later migration
    with ModelRegistry(ws) as reg:
        (model,) = reg.models()
        assert reg._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert model["role"] == "reasoning" and model["details"] == {}


@pytest.mark.slow
def test_forge_apply_cognate_then_evomerge_records_lineage(tmp_path, capsys, monkeypatch):
    from runtime import commands

    monkeypatch.setenv("FORGE_THREADS", "1")

    recipe = tmp_path / "mini.forge"
    recipe.write_text("""forge 1
recipe "mini" {
  seed = 3
  device = cpu
  tracking { wandb = disabled }
}
phase cognate {
  models = 2
  roles = [reasoning, memory]
  pretrain_steps = 2
  steps = 2
  batch_size = 2
  seq_len = 64
  warmup_steps = 1
  architecture = smoke
  eval { examples = 3  max_new_tokens = 2  batch_size = 4 }
}
phase evomerge {
  population = 2
  generations = 2
  elitism = 1
  tournament_size = 2
  techniques = [linear, ties { density = 0.5 }]
  eval { examples = 3  max_new_tokens = 2  batch_size = 4 }
}
""")
    ws = tmp_path / "ws"
    assert commands.apply(str(recipe), workspace=str(ws)) == 0
    capsys.readouterr()
    assert commands.show(workspace=str(ws), json=True) == 0
    shown = json.loads(capsys.readouterr().out)
    cognate, evomerge = shown["phases"]
    (champion,) = evomerge["models"]
    assert champion["role"] == "champion" and champion["details"]["technique"] in (
        "linear", "ties", "input")
    assert evomerge["metrics"]["champion.fitness"] >= evomerge["metrics"]["parents.best_fitness"]
    parent_fitness = [m["metrics"]["fitness"] for m in cognate["models"]]
    assert max(parent_fitness) == pytest.approx(evomerge["metrics"]["parents.best_fitness"])
    assert champion["metrics"]["fitness"] == pytest.approx(evomerge["metrics"]["champion.fitness"])
    assert set(champion["parents"]) <= {m["id"] for m in cognate["models"]}
    assert {"generation.best_fitness", "generation.diversity", "technique.ties"} <= \
        set(evomerge["metrics"])
