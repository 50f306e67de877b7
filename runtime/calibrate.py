"""Measure this machine's fp32 matmul throughput for the planner (``forge calibrate``).

``measure`` times square fp32 matmuls of a few sizes (best of ``repeats`` after a
warm-up, 2*n^3 FLOPs each) and keeps the fastest rate as ``peak_flops``. ``efficiency``
is then the share of that peak a training step sustains: TRAINING_EFFICIENCY (0.3) is our
planning choice, because a training step also runs element-wise kernels, attention
softmax, optimiser updates and Python overhead at far below matmul speed. ``op_seconds``
is the fixed cost of one tensor op: a chain of small element-wise ops is run forward and
backward with autograd, and its best time is divided by the ops it dispatched (on CUDA,
the larger of the device's and the host's figure, see ``_op_seconds``). ``save``
writes the profiles where ``forgelang.devices.load_calibrated`` reads them.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path

from forgelang.devices import BUILTIN, DEFAULT_CUDA, DeviceProfile, calibration_path

TRAINING_EFFICIENCY = 0.3  # our choice, as devices.BUILTIN: sustained training / best matmul FLOP/s
DEFAULT_SIZES = (256, 512, 1024)
OP_CHAIN = 100  # element-wise steps of the op-cost probe (3 ops each, then backward)


def _time_matmul(torch, n: int, device: str, repeats: int) -> float:
    """Best FLOP/s over ``repeats`` timings of one n x n fp32 matmul."""
    a = torch.randn(n, n, device=device, dtype=torch.float32)  # (n, n)
    b = torch.randn(n, n, device=device, dtype=torch.float32)  # (n, n)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    a @ b  # warm-up: kernel selection, page faults
    sync()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        sync()
        best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / max(best, 1e-9)


def _op_chain(torch, x):
    y = x
    for _ in range(OP_CHAIN):
        y = torch.sigmoid(y * 1.01 + 0.1)
    y.sum().backward()


def _time_ops(torch, device: str, repeats: int) -> float:
    """Seconds per dispatched op of a small forward + backward (best of ``repeats``)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class _Count(TorchDispatchMode):
        ops = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            _Count.ops += 1
            return func(*args, **(kwargs or {}))

    x = torch.randn(512, 64, device=device, requires_grad=True)  # (512, 64): a small model's activations
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    with _Count():
        _op_chain(torch, x)
    best = float("inf")
    for _ in range(repeats + 1):  # the first run warms up
        start = time.perf_counter()
        _op_chain(torch, x)
        sync()
        best = min(best, time.perf_counter() - start)
    return best / _Count.ops


def _op_seconds(torch, device: str, repeats: int) -> float:
    """The per-op cost: on CUDA at least the host's own, because kernels launch
    asynchronously and a small model's step is paced by the host dispatching them
    (on an H200 machine the GPU probe measured 9.0 us and the host's 15.5-19.3 us; the tiny
    cognate phase there works out near 17 us per op: its time / steps / counted ops)."""
    cost = _time_ops(torch, device, repeats)
    return max(cost, _time_ops(torch, "cpu", repeats)) if device.startswith("cuda") else cost


def process_base_bytes() -> int:
    """RSS of this process with everything ``forge apply`` loads before a phase (the
    kernels, the orchestrator; W&B runs in a child process, ``runtime.tracking``), after
    releasing free heap: the base every phase's CPU peak includes (``runtime.measure``).
    0 where RSS cannot be read."""
    import runtime.orchestrator  # noqa: F401
    import runtime.phases  # noqa: F401
    from runtime.kernels import KERNELS

    for kind in KERNELS.names():  # a whole pipeline loads every kernel
        KERNELS.get(kind)
    from runtime.measure import current_rss_bytes, release_free_memory

    release_free_memory()
    return current_rss_bytes() or 0


def _memory_bytes(torch, device: str) -> int:
    if device.startswith("cuda"):
        return int(torch.cuda.get_device_properties(torch.device(device)).total_memory)
    return BUILTIN["cpu"].memory_bytes


def measure(device: str = "cpu", sizes: tuple[int, ...] = DEFAULT_SIZES,
            repeats: int = 5) -> DeviceProfile:
    """Measure fp32 matmul throughput on ``device`` ("cpu" or "cuda[:N]").

    Args:
        device: torch device to measure.
        sizes: square matrix sizes timed; the fastest rate wins.
        repeats: timings per size; the best is kept (least disturbed by other load).

    Returns:
        A profile named "cpu" or "cuda" with the measured peak, our training efficiency
        and the measured cost per op.

    Raises:
        ValueError: a CUDA device was asked for but torch sees none.
    """
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"cannot calibrate {device!r}: torch sees no CUDA device")
    if not sizes or repeats < 1:
        raise ValueError("need at least one size and one repeat")
    peak = max(_time_matmul(torch, n, device, repeats) for n in sizes)
    kind = "cuda" if device.startswith("cuda") else "cpu"
    base = BUILTIN[DEFAULT_CUDA] if kind == "cuda" else BUILTIN["cpu"]
    return replace(base, name=kind, type=kind, peak_flops=peak, efficiency=TRAINING_EFFICIENCY,
                   memory_bytes=_memory_bytes(torch, device),
                   op_seconds=_op_seconds(torch, device, repeats),
                   base_memory_bytes=0 if kind == "cuda" else process_base_bytes(),
                   source=f"calibrated {date.today().isoformat()}")


def save(profiles: dict[str, DeviceProfile] | list[DeviceProfile],
         path: str | Path | None = None) -> str:
    """Write profiles to ``path`` (default ``calibration_path()``; ``calibration_path(ws)``
    keeps them with a workspace) as ``{"profiles": {name: fields}}``.

    Profiles already saved under other names are kept. Returns the path written.
    """
    if not isinstance(profiles, dict):
        profiles = {p.name: p for p in profiles}
    path = Path(path) if path is not None else calibration_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    stored = data.get("profiles", {}) if isinstance(data, dict) else {}
    stored.update({name: asdict(p) for name, p in profiles.items()})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"profiles": stored}, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)  # atomic: a crash never leaves half a file
    return str(path)
