"""Size category, adaptive batch, divergence guard, measurement, device."""

from __future__ import annotations

import math

import pytest
import torch

from runtime.device import resolve_device, seed_everything
from runtime.measure import PhaseMeter
from runtime.utils import adaptive_batch_size, size_category
from runtime.utils.divergence import DivergenceError, DivergenceGuard


def test_size_category_bounds():
    assert [size_category(n) for n in (0, 50_000, 9_999_999, 10_000_000, 25_000_000,
                                       99_999_999, 100_000_000, 1_000_000_000)] == \
        ["tiny", "tiny", "tiny", "small", "small", "small", "medium", "large"]
    with pytest.raises(ValueError):
        size_category(-1)


def test_adaptive_batch_fits_the_budget():
    b = adaptive_batch_size(per_sample_bytes=1000, budget_bytes=100_000, fixed_bytes=20_000)
    assert b == 32 and 20_000 + b * 1000 <= 0.8 * 100_000
    assert adaptive_batch_size(1000, 100_000, power_of_two=False) == 80
    assert adaptive_batch_size(1, 10**12, max_batch=64) == 64
    with pytest.raises(ValueError, match="needs"):
        adaptive_batch_size(per_sample_bytes=10**9, budget_bytes=10**6)


def _problem():
    torch.manual_seed(0)
    x = torch.randn(64, 4)  # (N, D)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])  # (N,)
    model = torch.nn.Linear(4, 1, bias=False)
    return x, y, model


def test_divergence_guard_rolls_back_lowers_lr_and_converges():
    x, y, model = _problem()
    # lr 1.2 is past the stability limit of this quadratic: plain SGD blows up
    opt = torch.optim.SGD(model.parameters(), lr=1.2)
    events = []
    guard = DivergenceGuard(model, opt, max_retries=5, snapshot_every=1, on_event=events.append)
    for step in range(200):
        loss = ((model(x).squeeze(-1) - y) ** 2).mean()
        if not guard.check(loss, step):
            continue
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert events and events[0]["type"] == "divergence_rollback"
    assert opt.param_groups[0]["lr"] < 1.2
    assert math.isfinite(loss.item()) and loss.item() < 1e-3


def test_divergence_guard_restores_weights_and_gives_up():
    _, _, model = _problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    guard = DivergenceGuard(model, opt, max_retries=2)
    good = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.fill_(1e6)
    assert guard.check(float("nan"), 1) is False
    assert torch.equal(model.weight, good) and opt.param_groups[0]["lr"] == pytest.approx(0.05)
    assert guard.check(float("inf"), 2) is False
    with pytest.raises(DivergenceError, match="after 2 rollbacks"):
        guard.check(float("nan"), 3)


def test_spike_detection():
    _, _, model = _problem()
    guard = DivergenceGuard(model, torch.optim.SGD(model.parameters(), lr=0.1), min_history=3)
    for step, loss in enumerate([1.0, 0.9, 0.8, 0.85]):
        assert guard.check(loss, step)
    assert guard.is_divergent(50.0) is not None and guard.is_divergent(2.0) is None


def test_phase_meter_measures_allocations():
    with PhaseMeter("cpu") as meter:
        block = bytearray(64 * 1024 * 1024)
        block[::4096] = b"x" * len(block[::4096])  # touch every page so it is resident
    assert meter.above_start_bytes >= 60 * 1024 * 1024
    assert meter.seconds > 0
    del block
    with PhaseMeter("cpu") as small:
        sum(range(1000))
    assert small.above_start_bytes < 8 * 1024 * 1024


def test_phase_meter_records_the_process_peak_what_plan_estimates():
    """The recorded peak is the process's RSS (interpreter and imports included), the
    quantity `forge plan` estimates; memory freed before the block does not count in it."""
    from runtime.measure import current_rss_bytes

    garbage = bytearray(96 * 1024 * 1024)
    garbage[::4096] = b"x" * len(garbage[::4096])
    del garbage  # freed before the phase: returned to the OS at its start
    with PhaseMeter("cpu") as meter:
        sum(range(1000))
    assert meter.peak_memory_bytes >= meter.above_start_bytes
    assert abs(meter.peak_memory_bytes - current_rss_bytes()) < 32 * 1024 * 1024


def test_device_and_seeding():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(Exception, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(Exception, match="CUDA is not available"):
            resolve_device("cuda:0")
    seed_everything(5)
    a = torch.rand(3)
    seed_everything(5)
    assert torch.equal(a, torch.rand(3))
