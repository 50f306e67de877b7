"""The experts kernel end to end on Cognate, Llama ``dir:`` and forge_ternary inputs: a
model that loads with its experts beside it, the Pareto front stored, every declared
metric recorded, resumable to the same bytes, the same front on Ray as locally."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import threading
from pathlib import Path

import pytest
import torch

import runtime.phases.experts  # noqa: F401  (registers the kernel until runtime.phases lists it)
from forgelang.kinds.experts import KIND, ExpertsParams
from runtime.artifacts import hash_directory
from runtime.kernels import KERNELS, InputModel, PhaseContext, StopRequested
from tests.runtime.phases.kernel_inputs import INPUTS, phase_context, suite_tokenizer

EVAL = {"examples": 3, "max_new_tokens": 2, "batch_size": 8, "levels": [1]}
PARAMS = dict(self_analysis={"samples_per_skill": 2, "max_experts": 2},
              svf={"steps": 2, "batch_size": 2}, nsga2={"evaluations": 8, "population": 4,
                                                        "examples": 1},
              mixing={"cem_population": 3, "iterations": 2, "examples": 2}, eval=EVAL)



def ternary_input(root: Path) -> InputModel:
    """The smoke Cognate model stored as forge_ternary (what the bitnet phase hands on)."""
    from runtime.formats.ternary import save_ternary
    from runtime.phases.toolkit.inputs import load_model

    source = INPUTS["cognate"](root / "float")
    save_ternary(load_model(source.path, "cpu"), suite_tokenizer(), root / "ternary")
    return InputModel(path=root / "ternary", role="ternary")


SOURCES = {**INPUTS, "ternary": ternary_input}


@pytest.fixture(scope="module", params=["cognate", "llama", "ternary"])
def source(request, tmp_path_factory) -> InputModel:
    return SOURCES[request.param](tmp_path_factory.mktemp(request.param))


def _ctx(root: Path, stop=None, progress=lambda f, m: None, metrics=None) -> PhaseContext:
    return phase_context(root, "experts", stop, progress, metrics)


def _run(root: Path, source: InputModel, **kw):
    return KERNELS.get("experts").run(_ctx(root, **kw), ExpertsParams(**PARAMS), [source])


def test_the_output_loads_with_its_experts_and_front(source, tmp_path):
    from transformers import AutoModelForCausalLM

    import runtime  # noqa: F401  (all a user needs before from_pretrained)
    from runtime.formats.ternary import TernaryLinear
    from runtime.svf import ExpertRouter

    logged: list[str] = []
    result = _run(tmp_path, source, metrics=logged)
    (out,) = result.models
    front = json.loads((out.path / "pareto_front.json").read_text())
    assert front["front"] and front["rule"] and front["chosen"]["index"] in [
        p["index"] for p in front["front"]]
    assert len(front["evaluations"]) == result.metrics["nsga2.evaluations"] == 8
    assert result.metrics["pareto.size"] == len(front["front"])
    distinct = {tuple(p["objectives"]) for p in front["front"]}
    assert result.metrics["pareto.distinct"] == len(distinct) >= 1
    model = AutoModelForCausalLM.from_pretrained(out.path).eval()
    ternary = any(isinstance(m, TernaryLinear) for m in model.modules())
    assert ternary == source.path.name.startswith("ternary")
    router = ExpertRouter(model, suite_tokenizer(), out.path)
    assert router.experts.skills == out.details["experts"]
    assert router.experts.mix["weights"] == out.details["weights"]
    if not ternary:  # the stored weights are the chosen mix of the base's SVD
        mixed = router.weights("mix")
        for name, weight in mixed.items():
            assert torch.allclose(model.get_submodule(name).weight, weight, atol=1e-5)
    recorded = set(result.metrics) | set(logged) | set(out.metrics)
    assert all(KIND.produces(m) for m in recorded), [m for m in recorded if not KIND.produces(m)]
    declared = [p for p in KIND.metrics if ternary or p != "ternary.*"]
    assert all(any(fnmatch.fnmatchcase(m, p) for m in recorded) for p in declared), declared


def test_a_stopped_run_resumes_to_the_same_model(tmp_path):
    source = INPUTS["cognate"](tmp_path / "in")
    whole = _run(tmp_path / "whole", source)
    for where in ("expert step 1/", "nsga2 search"):
        stop = threading.Event()

        def on_progress(_fraction, message, where=where, stop=stop):
            if where in message:
                stop.set()

        root = tmp_path / where.split()[0]
        with pytest.raises(StopRequested):
            _run(root, source, stop=stop, progress=on_progress)
        resumed = _run(root, source)
        assert hash_directory(resumed.models[0].path) == hash_directory(whole.models[0].path)
        assert resumed.metrics == whole.metrics


def test_what_is_not_built_is_refused_before_any_work(tmp_path):
    with pytest.raises(NotImplementedError):
        KERNELS.get("experts").run(_ctx(tmp_path), ExpertsParams(**PARAMS, data="d.jsonl"), [])


@pytest.mark.ray
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_ray_executor_gives_the_local_front(tmp_path):
    import ray

    source = INPUTS["llama"](tmp_path / "in")
    local = _run(tmp_path / "local", source)
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        on_ray = KERNELS.get("experts").run(
            _ctx(tmp_path / "ray"), ExpertsParams(**PARAMS, executor={"type": "ray",
                                                                      "address": "auto"}),
            [source])
    finally:
        ray.shutdown()
    for out in (local, on_ray):
        assert (out.models[0].path / "pareto_front.json").is_file()
    assert ((on_ray.models[0].path / "pareto_front.json").read_bytes()
            == (local.models[0].path / "pareto_front.json").read_bytes())
    assert hash_directory(on_ray.models[0].path) == hash_directory(local.models[0].path)
