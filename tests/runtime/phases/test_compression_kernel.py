"""The compression kernel end to end: a Llama ``dir:`` model, a Cognate model and BitNet's
ternary output; stored compressed forms that load and generate; a stage that would grow
its input skipped with the reason; stop and kill -9, then the same final bytes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from forgelang.kinds import KINDS
from forgelang.kinds.compression import CompressionParams
from runtime.artifacts import hash_directory
from runtime.kernels import ForgeWarning, StopRequested
from runtime.phases.compression.kernel import CompressionKernel
from tests.runtime.phases.kernel_inputs import cognate_input, llama_input, phase_context

EVAL = {"examples": 3, "max_new_tokens": 2, "batch_size": 4, "levels": [1]}
SEEDLM = {"type": "seedlm", "seed_bits": 6}
VPTQ = {"type": "vptq", "vector_len": 8, "codebook": 16, "kmeans_iters": 3,
        "calibration_samples": 3}
PARAMS = {"stages": [SEEDLM, VPTQ], "eval": EVAL}
REPO = Path(__file__).resolve().parents[3]



@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return llama_input(tmp_path_factory.mktemp("llama"))


@pytest.fixture(scope="module")
def ternary(tmp_path_factory):
    """The llama stored as the bitnet phase stores its output (forge_ternary, base3)."""
    from runtime.formats.ternary import save_ternary
    from runtime.kernels import InputModel
    from runtime.phases.toolkit.inputs import load_model, load_tokenizer

    source = llama_input(tmp_path_factory.mktemp("float")).path
    out = save_ternary(load_model(source, "cpu"), load_tokenizer(source),
                       tmp_path_factory.mktemp("ternary") / "model")
    return InputModel(path=out, role="ternary", model_id=2,
                      metrics={"input_disk_bytes": 999_999.0})


def _run(root: Path, params: dict, source, stop=None, progress=lambda f, m: None):
    root.mkdir(parents=True, exist_ok=True)
    ctx = phase_context(root, "compression", stop, progress)
    return CompressionKernel().run(ctx, CompressionParams.model_validate(params), [source])


def test_llama_compressed_form_loads_generates_and_records_declared_metrics(llama, tmp_path):
    from safetensors import safe_open

    from runtime.phases.toolkit.inputs import load_model

    result = _run(tmp_path, PARAMS, llama)
    (out,) = result.models
    phase = result.metrics
    kind = KINDS.get("compression")
    names = set(phase) | set(out.metrics)
    assert all(kind.produces(n) for n in names), sorted(n for n in names if not kind.produces(n))
    assert phase["bits_per_weight.seedlm"] == pytest.approx((6 + 4 + 4 * 3) / 8)
    assert phase["bits_per_weight.vptq"] < phase["bits_per_weight.seedlm"]
    assert phase["compression_ratio"] > 1 and phase["compression_ratio.fp32"] > 1
    assert phase["compression_ratio"] == pytest.approx(
        phase["input_disk_bytes"] / phase["stage.vptq.disk_bytes"])
    assert 0 < phase["reconstruction_error.seedlm"] < 1
    with safe_open(str(out.path / "model.safetensors"), framework="pt") as f:
        keys = list(f.keys())
    assert not any(k.endswith("proj.weight") for k in keys)  # codes, not dense matrices
    assert any(k.endswith(".indices") for k in keys)
    model = load_model(out.path, "cpu")
    ids = model.generate(torch.tensor([[1, 5, 6]]), max_new_tokens=3, do_sample=False)
    assert ids.shape == (1, 6)


def test_ternary_input_skips_a_stage_that_would_grow_it(ternary, tmp_path):
    with pytest.warns(ForgeWarning, match="stage seedlm skipped"):
        result = _run(tmp_path, PARAMS, ternary)
    phase, (out,) = result.metrics, result.models
    assert phase["stage.seedlm.skipped"] == 1.0
    assert "bits_per_weight.seedlm" not in phase and "stage.vptq.skipped" not in phase
    assert "would store" in out.details["stages"][0]["skipped"]
    assert phase["bits_per_weight.vptq"] < 1.6  # below the ternary codes it replaced
    assert phase["compression_ratio.bitnet_input"] == pytest.approx(
        999_999.0 / phase["stage.vptq.disk_bytes"])
    assert set(out.details["layers"].values()) == {"vptq"}


@pytest.fixture(scope="module")
def cognate(tmp_path_factory):
    return cognate_input(tmp_path_factory.mktemp("cognate"))


@pytest.mark.parametrize("max_error", [1.0, 0.001])
def test_cognate_hyper_layers_over_max_error_keep_their_form(cognate, tmp_path, max_error):
    params = {"stages": [{"type": "hyper", "points": 64, "bits": 8, "max_error": max_error}],
              "eval": EVAL}
    result = _run(tmp_path, params, cognate)
    phase, (out,) = result.metrics, result.models
    if max_error == 1.0:  # every layer encoded
        assert phase["stage.hyper.kept_layers"] == 0
        assert set(out.details["layers"].values()) == {"hyper"}
        assert 0 < phase["reconstruction_error.hyper"] <= max_error
        assert phase["bits_per_weight.hyper"] == pytest.approx(8 / 2, rel=0.02)  # + scales
    else:  # every layer over the bound: all stay dense, as the input had them
        assert phase["stage.hyper.kept_layers"] > 0 and out.details["layers"] == {}
        assert phase["compression_ratio"] == pytest.approx(1.0, rel=0.05)


def test_stop_then_rerun_gives_the_uninterrupted_bytes(llama, tmp_path):
    import threading

    whole = _run(tmp_path / "whole", PARAMS, llama).models[0].path
    stop = threading.Event()

    def progress(fraction, message):
        if message.startswith("vptq"):
            stop.set()

    with pytest.raises(StopRequested):
        _run(tmp_path / "part", PARAMS, llama, stop, progress)
    assert (tmp_path / "part" / "ckpt" / "compression.stage0.json").exists()
    again = _run(tmp_path / "part", PARAMS, llama).models[0].path
    assert hash_directory(again) == hash_directory(whole)


KILLED = """
import sys, torch
from pathlib import Path
from forgelang.kinds.compression import CompressionParams
from runtime.kernels import InputModel
from runtime.phases.compression.kernel import CompressionKernel
from tests.runtime.phases.kernel_inputs import phase_context
from tests.runtime.phases.test_compression_kernel import PARAMS
torch.set_num_threads(1)
root = Path(sys.argv[1])
CompressionKernel().run(phase_context(root, "compression"),
                        CompressionParams.model_validate(PARAMS),
                        [InputModel(path=Path(sys.argv[2]), role="external")])
"""


def test_kill_9_after_a_stage_then_rerun_gives_the_same_bytes(llama, tmp_path):
    whole = _run(tmp_path / "whole", PARAMS, llama).models[0].path
    root = tmp_path / "killed"
    root.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(root), str(llama.path)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    marker = root / "ckpt" / "compression.stage0.json"
    deadline = time.monotonic() + 600
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert marker.exists()
    again = _run(root, PARAMS, llama).models[0].path
    assert hash_directory(again) == hash_directory(whole)
