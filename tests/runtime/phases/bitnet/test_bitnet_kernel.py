"""The bitnet kernel end to end on a Cognate model and on a Llama ``dir:`` model: packed
ternary files that load, measured before/after with and without the STE steps, resumable."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from forgelang.kinds.bitnet import BitNetParams
from runtime.artifacts import hash_directory
from runtime.kernels import KERNELS, PhaseContext, StopRequested
from tests.runtime.phases.kernel_inputs import phase_context

EVAL = {"examples": 3, "max_new_tokens": 2, "batch_size": 4, "levels": [1]}
PARAMS = dict(steps=3, batch_size=2, seq_len=64, eval=EVAL)




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
    assert 1.58 < m["bits_per_param"] <= 1.6  # 5 trits a byte, no padding byte
    assert 0 < m["scale_bits_per_param"] < 1  # one float32 a matrix, reported apart
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


def test_2bit_packing_stores_the_same_codes_four_to_a_byte(source, tmp_path):
    from runtime.formats.ternary import TernaryLinear
    from runtime.phases.toolkit.inputs import load_model

    runs = {packing: KERNELS.get("bitnet").run(_ctx(tmp_path / packing),
                                               BitNetParams(**PARAMS, packing=packing), [source])
            for packing in ("base3", "2bit")}
    assert 2.0 <= runs["2bit"].models[0].metrics["bits_per_param"] < 2.01
    layers = {packing: {name: m for name, m in load_model(run.models[0].path, "cpu").named_modules()
                        if isinstance(m, TernaryLinear)} for packing, run in runs.items()}
    assert layers["base3"].keys() == layers["2bit"].keys()
    for name, layer in layers["2bit"].items():
        assert layer.packing == "2bit" and layer.codes.numel() == -(-layer.weight.numel() // 4)
        assert torch.equal(layer.unpacked_codes(), layers["base3"][name].unpacked_codes())
        assert torch.equal(layer.scale, layers["base3"][name].scale)


def test_what_is_not_built_is_refused_before_any_work(tmp_path):
    for change in ({"keep_full_precision": ["embeddings", "head"]},):
        with pytest.raises(NotImplementedError):
            KERNELS.get("bitnet").run(_ctx(tmp_path), BitNetParams(**{**PARAMS, **change}), [])
