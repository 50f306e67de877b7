"""The cognate kernel: determinism, resume after a stop, shared initialisation, CLI run."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from forgelang.kinds.cognate import CognateParams
from runtime.kernels import KERNELS, PhaseContext, StopRequested
from runtime.phases.cognate import kernel as cognate
from runtime.training import train_steps
from tests.subprocess_env import repo_pythonpath

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture(autouse=True)
def _one_thread_and_cached_tokenizer(monkeypatch):
    """One thread (tiny models run faster) and one tokenizer build per (vocab, seed)."""
    torch.set_num_threads(1)
    monkeypatch.setattr(cognate, "build_tokenizer", _cached_tokenizer)


@functools.lru_cache(maxsize=4)
def _cached_tokenizer(vocab_size: int, seed: int):
    from runtime.data import build_tokenizer

    return build_tokenizer(vocab_size, seed)


def _params(**overrides) -> CognateParams:
    values = dict(models=2, roles=["reasoning", "memory"], pretrain_steps=1, steps=1,
                  batch_size=2, seq_len=64, warmup_steps=1, architecture="smoke",
                  optimizer="mugrokfast_pretrain",
                  eval={"examples": 4, "max_new_tokens": 2, "batch_size": 4})
    return CognateParams(**{**values, **overrides})


def _ctx(root: Path, seed: int = 3, progress=lambda f, m: None, stop=None) -> PhaseContext:
    ckpt = root / "ckpt"
    ckpt.mkdir(parents=True, exist_ok=True)
    return PhaseContext(run_id="r", phase="cognate", kind="cognate", device="cpu", seed=seed,
                        workspace=root, run_dir=root, checkpoint_dir=ckpt, work_dir=root,
                        progress_sink=progress, stop_event=stop or threading.Event())


def _weights(result) -> list[dict]:
    return [out.model.state_dict() for out in result.models]


def _same(a: list[dict], b: list[dict]) -> bool:
    return all(torch.equal(x[k], y[k]) for x, y in zip(a, b, strict=True) for k in x)


def test_registered_and_outputs_carry_measured_metrics(tmp_path):
    result = KERNELS.get("cognate").run(_ctx(tmp_path), _params(), [])
    assert [out.role for out in result.models] == ["reasoning", "memory"]
    for out in result.models:
        assert 0.0 <= out.metrics["accuracy"] <= 1.0
        assert any(k.startswith("accuracy.") for k in out.metrics)
        # perplexity of a real model on real text: finite, above 1, not the uniform V exactly
        assert 1.0 < out.metrics["perplexity"] < 10 * _params().architecture.vocab_size
    assert 0.0 <= result.metrics["merge_check.shared_init_avg_accuracy"] <= 1.0
    # specialists trained on different mixes end up with different weights
    first, second = _weights(result)
    assert not all(torch.equal(first[k], second[k]) for k in first)


def test_same_seed_same_models_other_seed_differs(tmp_path):
    a = cognate.CognateKernel().run(_ctx(tmp_path / "a"), _params(), [])
    b = cognate.CognateKernel().run(_ctx(tmp_path / "b"), _params(), [])
    c = cognate.CognateKernel().run(_ctx(tmp_path / "c", seed=4),
                                    _params(models=1, roles=["reasoning"]), [])
    assert _same(_weights(a), _weights(b))
    assert a.models[0].metrics == b.models[0].metrics
    assert not _same(_weights(a)[:1], _weights(c))


def test_stop_checkpoints_and_resume_matches_uninterrupted(tmp_path):
    stop = threading.Event()

    def progress(fraction, message):
        if message.startswith("specialist1"):
            stop.set()  # stop after specialist1's first step

    with pytest.raises(StopRequested):
        cognate.CognateKernel().run(_ctx(tmp_path / "x", progress=progress, stop=stop),
                                    _params(steps=2), [])
    ckpt = tmp_path / "x" / "ckpt"
    assert {p.name for p in ckpt.glob("*.json")} == {"pretrain.json", "specialist0.json",
                                                     "specialist1.partial.json"}
    assert not list(ckpt.glob("*.pt")), "checkpoints are safetensors + JSON, never pickles"
    resumed = cognate.CognateKernel().run(_ctx(tmp_path / "x"), _params(steps=2), [])
    straight = cognate.CognateKernel().run(_ctx(tmp_path / "y"), _params(steps=2), [])
    assert _same(_weights(resumed), _weights(straight))


def test_training_loop_fits_one_batch():
    from runtime.nn import TrmTitansMagForCausalLM, preset_config
    from runtime.optim import MuGrokfast

    torch.manual_seed(0)
    config = preset_config("smoke")
    model = TrmTitansMagForCausalLM(config)
    ids = torch.randint(4, config.vocab_size, (2, 16))  # (B, T)
    optimizer = MuGrokfast.from_config(model, {"muon_lr": 0.02, "adam_lr": 1e-2})
    report = train_steps(model, optimizer, lambda step: (ids, ids), 30, warmup_steps=2)
    assert report.completed == 30 and not report.stopped
    assert report.losses[-1] < 0.7 * report.losses[0]


@pytest.mark.slow
def test_cli_apply_smoke_recipe_records_three_specialists(tmp_path):
    env = {**os.environ, "PYTHONPATH": repo_pythonpath(), "FORGE_THREADS": "1",
           "WANDB_MODE": "disabled"}
    overrides = ["--set", "cognate.pretrain_steps=4", "--set", "cognate.steps=2",
                 "--set", "cognate.eval.examples=8", "--set", "cognate.eval.max_new_tokens=4"]
    ws = str(tmp_path / "ws")
    applied = subprocess.run([sys.executable, "-m", "forgelang.cli", "apply",
                              "recipes/smoke.forge", "--only", "cognate", "--workspace", ws,
                              *overrides], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=120)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    shown = subprocess.run([sys.executable, "-m", "forgelang.cli", "show", "--json",
                            "--workspace", ws], cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    phase = next(p for p in json.loads(shown.stdout)["phases"] if p["kind"] == "cognate")
    assert [m["role"] for m in phase["models"]] == ["reasoning", "memory", "general"]
    for model in phase["models"]:
        assert any(k.startswith("accuracy.") for k in model["metrics"])


def _write_jsonl(path: Path, families: list[str], n: int = 120) -> Path:
    from runtime.data.example import Example
    from runtime.data.jsonl import save_jsonl

    examples = [Example(f"q{i} {fam}?", f"a{i % 7}", fam, 1, {})
                for i in range(n) for fam in families]
    save_jsonl(examples, path)
    return path


def test_jsonl_data_trains_specialists_on_their_families(tmp_path):
    data = _write_jsonl(tmp_path / "mine.jsonl", ["arithmetic", "memory"])
    result = KERNELS.get("cognate").run(_ctx(tmp_path), _params(data=str(data)), [])
    assert [out.role for out in result.models] == ["reasoning", "memory"]
    for out in result.models:
        # held-out lines of the file only: their families, no suite family
        assert {k for k in out.metrics if k.count(".") == 1 and k.startswith("accuracy.")} <= {
            "accuracy.arithmetic", "accuracy.memory"}
        assert "role_accuracy.reasoning" in out.metrics and "role_accuracy.memory" in out.metrics
        assert out.metrics["role_examples.reasoning"] > 0  # the stderr's n
    assert "specialisation_stderr.memory" in result.metrics


def test_jsonl_without_a_roles_family_is_refused_with_the_families_present(tmp_path):
    data = _write_jsonl(tmp_path / "mine.jsonl", ["arithmetic"])
    with pytest.raises(ValueError, match="no training example for role 'memory'.*arithmetic"):
        KERNELS.get("cognate").run(_ctx(tmp_path), _params(data=str(data)), [])


def test_missing_jsonl_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        KERNELS.get("cognate").run(_ctx(tmp_path), _params(data=str(tmp_path / "no.jsonl")), [])
