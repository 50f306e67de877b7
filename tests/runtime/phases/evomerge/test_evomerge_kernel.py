"""The evomerge kernel on real smoke Cognate models: champion, parents, resume, single merge."""

from __future__ import annotations

import copy
import functools
import importlib.util
import threading
from pathlib import Path

import pytest
import torch

from forgelang.kinds.cognate import CognateParams
from forgelang.kinds.evomerge import EvoMergeParams
from runtime.kernels import KERNELS, InputModel, PhaseContext, StopRequested
from runtime.phases.evomerge.fitness import fitness_function

FITNESS = "0.9 * accuracy + 0.1 * diversity"
EVAL = {"examples": 3, "max_new_tokens": 2, "batch_size": 4}



@functools.lru_cache(maxsize=1)
def _tokenizer():
    from runtime.data import build_tokenizer

    return build_tokenizer(CognateParams(architecture="smoke").architecture.vocab_size, 0)


@pytest.fixture(scope="module")
def smoke_inputs(tmp_path_factory) -> list[InputModel]:
    """Two smoke Cognate models sharing an initialisation (one perturbed), with ids 11, 12."""
    from runtime.nn import TrmTitansMagForCausalLM
    from runtime.phases.cognate import model_config

    root = tmp_path_factory.mktemp("inputs")
    torch.manual_seed(0)
    base = TrmTitansMagForCausalLM(model_config(CognateParams(architecture="smoke")))
    out = []
    for k in range(2):
        model = copy.deepcopy(base)
        gen = torch.Generator().manual_seed(k)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn(p.shape, generator=gen) * 0.05 * k)
        model.save_pretrained(root / f"m{k}")
        _tokenizer().save_pretrained(root / f"m{k}")
        out.append(InputModel(path=root / f"m{k}", role=f"m{k}", model_id=11 + k))
    return out


def _ctx(root: Path, stop=None, progress=lambda f, m: None, metrics=None) -> PhaseContext:
    ckpt = root / "ckpt"
    ckpt.mkdir(parents=True, exist_ok=True)
    sink = (lambda n, v, s, m: metrics.append((n, v, s))) if metrics is not None else (lambda *a: None)
    return PhaseContext(run_id="r", phase="evomerge", kind="evomerge", device="cpu", seed=5,
                        workspace=root, run_dir=root, checkpoint_dir=ckpt, work_dir=root,
                        metric_sink=sink, progress_sink=progress,
                        stop_event=stop or threading.Event())


def _params(**kw) -> EvoMergeParams:
    values = dict(population=2, generations=2, elitism=1, tournament_size=2,
                  techniques=["linear", {"type": "slerp", "t": 0.3}], fitness=FITNESS, eval=EVAL)
    return EvoMergeParams(**{**values, **kw})


def test_champion_is_measured_and_at_least_the_best_parent(smoke_inputs, tmp_path):
    logged = []
    result = KERNELS.get("evomerge").run(_ctx(tmp_path, metrics=logged),
                                         _params(generations=1), smoke_inputs)
    (champion,) = result.models
    assert champion.role == "champion" and champion.model is not None
    m = champion.metrics
    assert 0.0 <= m["accuracy"] <= 1.0 and m["perplexity"] > 1.0 and 0 <= m["diversity"] <= 1
    assert m["fitness"] == pytest.approx(fitness_function(FITNESS)(m))
    assert result.metrics["champion.fitness"] >= result.metrics["parents.best_fitness"]
    assert result.metrics["champion.fitness"] == m["fitness"]
    # the parents' fitness, with the same expression, goes on the parent models
    assert sorted(result.input_metrics) == [0, 1]
    assert max(v["fitness"] for v in result.input_metrics.values()) == \
        result.metrics["parents.best_fitness"]
    details = champion.details
    assert details["technique"] in ("linear", "slerp", "input") and "genome" in details
    if details["technique"] != "input":
        assert details["request"]["technique"] == details["technique"]
    names = {n for n, _v, _s in logged}
    assert {"generation.best_fitness", "generation.mean_fitness", "generation.diversity",
            "technique.linear", "technique.slerp"} <= names


def _stopped_run(kernel, root: Path, inputs, stop_at: str) -> list[str]:
    """Run until the progress message starting with ``stop_at`` asks for a stop."""
    stop, progress = threading.Event(), []

    def on_progress(fraction, message):
        progress.append(message)
        if message.startswith(stop_at):
            stop.set()

    with pytest.raises(StopRequested):
        kernel.run(_ctx(root, stop=stop, progress=on_progress), _params(generations=3), inputs)
    return progress


def test_stop_then_resume_reaches_the_same_champion(smoke_inputs, tmp_path):
    kernel = KERNELS.get("evomerge")
    whole = kernel.run(_ctx(tmp_path / "whole"), _params(generations=3), smoke_inputs)
    # a stop within a generation acts after the candidate being measured
    progress = _stopped_run(kernel, tmp_path / "a", smoke_inputs, "generation 1/3: candidate 1/")
    assert [m for m in progress if m.startswith("generation")] == [progress[-1]]
    # a stop at a generation's last candidate acts after its checkpoint
    _stopped_run(kernel, tmp_path, smoke_inputs, "generation 1/3: candidate 4/4")
    assert (tmp_path / "ckpt" / "evomerge_state.json").exists()
    for root in (tmp_path / "a", tmp_path):
        resumed_progress: list[str] = []
        resumed = kernel.run(_ctx(root, progress=lambda f, m, seen=resumed_progress:
                                  seen.append(m)), _params(generations=3), smoke_inputs)
        repeated = any(m.startswith("generation 1/") for m in resumed_progress)
        assert repeated == (root != tmp_path)  # only the unfinished generation is repeated
        assert resumed.models[0].details["genome"] == whole.models[0].details["genome"]
        assert resumed.models[0].metrics["fitness"] == whole.models[0].metrics["fitness"]
        a, b = resumed.models[0].model.state_dict(), whole.models[0].model.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_single_merge_of_directories_is_measured(smoke_inputs, tmp_path):
    params = _params(mode="merge", merge={"technique": "linear", "weights": [1.0, 3.0]})
    result = KERNELS.get("evomerge").run(_ctx(tmp_path), params, smoke_inputs)
    (merged,) = result.models
    assert merged.role == "merged" and merged.path.is_dir()
    assert merged.details["request"]["weights"] == [1.0, 3.0]
    assert 0.0 <= merged.metrics["accuracy"] <= 1.0
    assert result.metrics["input_accuracy"] == max(v["merge_input.accuracy"]
                                                   for v in result.input_metrics.values())
    from transformers import AutoModelForCausalLM

    loaded = AutoModelForCausalLM.from_pretrained(merged.path)
    inputs = [AutoModelForCausalLM.from_pretrained(i.path) for i in smoke_inputs]
    key = "stack.layers.0.mlp.down_proj.weight"
    expected = (inputs[0].state_dict()[key] + 3 * inputs[1].state_dict()[key]) / 4
    assert torch.allclose(loaded.state_dict()[key], expected, atol=1e-6)


@pytest.mark.ray
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_ray_executor_gives_the_local_result(smoke_inputs, tmp_path):
    import ray

    ray.init(num_cpus=2, include_dashboard=False)
    try:
        kernel = KERNELS.get("evomerge")
        local = kernel.run(_ctx(tmp_path / "local"), _params(generations=2), smoke_inputs)
        on_ray = kernel.run(_ctx(tmp_path / "ray"),
                            _params(generations=2, executor={"type": "ray", "address": "auto"}),
                            smoke_inputs)
    finally:
        ray.shutdown()
    assert on_ray.models[0].details == local.models[0].details
    assert on_ray.models[0].metrics == local.models[0].metrics
    assert on_ray.input_metrics == local.input_metrics


def test_single_merge_of_foreign_model_directories(tmp_path):
    """`dir:` inputs without the suite tokenizer: merged and loadable, nothing to measure."""
    from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=64, n_positions=32, n_embd=16, n_layer=2, n_head=2)
    inputs = []
    for k in range(2):
        torch.manual_seed(k)
        GPT2LMHeadModel(config).save_pretrained(tmp_path / f"g{k}")
        inputs.append(InputModel(path=tmp_path / f"g{k}", role="external"))
    params = _params(mode="merge", merge={"technique": {"type": "slerp", "t": 0.0}})
    result = KERNELS.get("evomerge").run(_ctx(tmp_path), params, inputs)
    (merged,) = result.models
    assert merged.metrics == {} and result.input_metrics == {}
    loaded = AutoModelForCausalLM.from_pretrained(merged.path).state_dict()
    first = AutoModelForCausalLM.from_pretrained(inputs[0].path).state_dict()
    assert all(torch.allclose(loaded[k], first[k]) for k in first)  # slerp t=0 = first input
