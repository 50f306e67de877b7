"""The bitnet kernel end to end on a Cognate model and on a Llama ``dir:`` model: packed
ternary files that load, measured before/after with and without the STE steps, resumable."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from forgelang.kinds.bitnet import BitNetParams
from runtime.artifacts import hash_directory
from runtime.kernels import KERNELS, InputModel, PhaseContext, StopRequested
from tests.runtime.phases.kernel_inputs import INPUTS, phase_context

EVAL = {"examples": 3, "max_new_tokens": 2, "batch_size": 4, "levels": [1]}
PARAMS = dict(steps=3, batch_size=2, seq_len=64, eval=EVAL)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module", params=["cognate", "llama"])
def source(request, tmp_path_factory) -> InputModel:
    return INPUTS[request.param](tmp_path_factory.mktemp(request.param))


def _ctx(root: Path, stop=None, progress=lambda f, m: None, metrics=None) -> PhaseContext:
    return phase_context(root, "bitnet", stop, progress, metrics)


def test_the_stored_model_is_packed_codes_that_load_and_generate(source, tmp_path):
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    import runtime.formats  # noqa: F401
    import runtime.nn  # noqa: F401
    from runtime.formats.ternary import TernaryLinear

    result = KERNELS.get("bitnet").run(_ctx(tmp_path), BitNetParams(**PARAMS), [source])
    (out,) = result.models
    m, phase = out.metrics, result.metrics
    assert 1.6 <= m["bits_per_param"] < 1.61  # 5 trits a byte, <= 4 padding trits a matrix
    assert 0 < m["sparsity"] < 1 and m["compression_ratio"] > 2
    assert {"input_accuracy", "ternary.accuracy", "ternary_only.accuracy", "loss"} <= set(phase)
    if phase["input_accuracy"] > 0:  # undefined, and not recorded, for an input scoring 0
        assert phase["ternary_only.retention"] == pytest.approx(
            phase["ternary_only.accuracy"] / phase["input_accuracy"])
    else:
        assert "ternary_only.retention" not in phase
    with safe_open(str(out.path / "model.safetensors"), framework="pt") as f:
        keys = list(f.keys())
    assert any(k.endswith(".codes") for k in keys)
    assert not any(k.endswith("q_proj.weight") for k in keys)  # no float copy of the codes
    loaded = AutoModelForCausalLM.from_pretrained(out.path).eval()
    assert any(isinstance(x, TernaryLinear) for x in loaded.modules())
    ids = torch.tensor([[1, 20, 21, 22]])
    generated = loaded.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                max_new_tokens=3, do_sample=False)
    assert generated.shape == (1, 7)


def test_a_stopped_run_resumes_to_the_same_model(source, tmp_path):
    whole = KERNELS.get("bitnet").run(_ctx(tmp_path / "whole"), BitNetParams(**PARAMS), [source])
    stop = threading.Event()

    def on_progress(_fraction, message):
        if message.startswith("ste step 1/"):
            stop.set()

    with pytest.raises(StopRequested):
        KERNELS.get("bitnet").run(_ctx(tmp_path / "resumed", stop, on_progress),
                                  BitNetParams(**PARAMS), [source])
    resumed = KERNELS.get("bitnet").run(_ctx(tmp_path / "resumed"), BitNetParams(**PARAMS),
                                        [source])
    assert hash_directory(resumed.models[0].path) == hash_directory(whole.models[0].path)


def test_what_is_not_built_is_refused_before_any_work(tmp_path):
    for change in ({"packing": "2bit"}, {"keep_full_precision": ["embeddings", "head"]}):
        with pytest.raises(NotImplementedError):
            KERNELS.get("bitnet").run(_ctx(tmp_path), BitNetParams(**{**PARAMS, **change}), [])
