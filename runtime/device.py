"""Device choice, CPU threads and seeding for phase kernels."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


class DeviceError(RuntimeError):
    """The recipe pinned a device this machine does not have."""


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(requested: str = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; a pinned device is honoured or refused.

    Args:
        requested: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

    Raises:
        DeviceError: a pinned device that is not available here.
    """
    name = (requested or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"the recipe pins device `{requested}` but CUDA is not available "
                              "on this machine; use `device = \"auto\"` or `\"cpu\"`")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"device `{requested}` does not exist: this machine has "
                              f"{torch.cuda.device_count()} CUDA device(s)")
        return device
    if name == "mps":
        if not _mps_available():
            raise DeviceError("the recipe pins device `mps` but MPS is not available here")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise DeviceError(f"unknown device `{requested}`; expected auto, cpu, cuda, cuda:N or mps")


def cpu_threads() -> int:
    """CPUs this process may run on (the affinity mask, which containers narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def configure_threads(device: torch.device) -> int:
    """On CPU, let torch use every CPU we may run on; returns the thread count set.

    ``$FORGE_THREADS`` overrides it: tiny models run faster on one thread, since
    per-operation threading overhead dwarfs their arithmetic.
    """
    env = os.environ.get("FORGE_THREADS", "").strip()
    if env:
        threads = max(1, int(env))
    else:
        threads = cpu_threads() if device.type == "cpu" else torch.get_num_threads()
    torch.set_num_threads(threads)
    return threads


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so a phase is reproducible."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
