"""forge calibrate: a real (tiny) matmul timing and the JSON the planner reads back."""

import json

import pytest

from forgelang.devices import load_calibrated, resolve
from runtime.calibrate import TRAINING_EFFICIENCY, measure, save


def test_measure_times_real_matmuls():
    p = measure("cpu", sizes=(32, 64), repeats=2)
    assert p.name == "cpu" and p.type == "cpu" and p.source.startswith("calibrated ")
    assert 1e6 < p.peak_flops < 1e14  # a real rate, not a placeholder
    assert p.efficiency == TRAINING_EFFICIENCY
    assert p.flops_per_second == pytest.approx(p.peak_flops * TRAINING_EFFICIENCY)
    assert 1e-8 < p.op_seconds < 1e-2  # a measured per-op cost, not the default
    assert p.op_seconds != resolve("cpu").op_seconds


def test_measure_records_the_apply_process_base_and_estimates_use_it(tmp_path, monkeypatch):
    """The base RSS every phase's measured CPU peak includes (runtime.measure) is measured
    with what apply loads, and the estimates' overhead becomes that figure; without a
    calibration the default stands."""
    from forgelang.kinds import costs
    from runtime.measure import current_rss_bytes

    p = measure("cpu", sizes=(32,), repeats=1)
    assert 50 * 2**20 < p.base_memory_bytes <= current_rss_bytes() + 16 * 2**20
    assert costs.overhead(p) == p.base_memory_bytes
    monkeypatch.setenv("FORGE_CALIBRATION", str(tmp_path / "none.json"))  # never calibrated
    assert resolve("cpu").base_memory_bytes == 0
    assert costs.overhead(resolve("cpu")) == costs.OVERHEAD_BYTES["cpu"]


def test_save_round_trips_through_load_calibrated(tmp_path, monkeypatch):
    path = tmp_path / "cfg" / "calibration.json"
    monkeypatch.setenv("FORGE_CALIBRATION", str(path))
    p = measure("cpu", sizes=(32,), repeats=1)
    assert save({"cpu": p}) == str(path)
    data = json.loads(path.read_text())
    assert set(data) == {"profiles"} and data["profiles"]["cpu"]["peak_flops"] == p.peak_flops
    assert load_calibrated() == {"cpu": p}
    assert resolve("cpu") == p  # the planner now uses the measured profile


def test_save_keeps_other_profiles(tmp_path, monkeypatch):
    monkeypatch.setenv("FORGE_CALIBRATION", str(tmp_path / "c.json"))
    p = measure("cpu", sizes=(32,), repeats=1)
    save({"cuda": p.__class__(**{**p.to_json(), "name": "cuda", "type": "cuda"})})
    save([p])
    assert set(load_calibrated()) == {"cpu", "cuda"}


def test_cuda_without_a_gpu_is_a_clear_error():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="no CUDA device"):
        measure("cuda")
