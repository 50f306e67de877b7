"""Measured peak memory and wall time of a phase, recorded beside the plan's estimate.

CPU: the process's peak resident set size while the phase runs (``peak_memory_bytes``,
what ``forge plan`` estimates: the interpreter, torch and what the phase holds), and the
same above the start (``above_start_bytes``). Phases share one process, so at the start
garbage is collected and glibc is asked to return freed heap to the OS
(``malloc_trim``): what earlier phases freed does not count for this one. On Linux,
writing ``5`` to ``/proc/self/clear_refs`` resets the kernel's high-water mark ``VmHWM``,
so the peak is exact; where that is not allowed a 5 ms sampler of ``VmRSS`` stands in.
CUDA: ``torch.cuda.max_memory_allocated`` after a reset of the peak stats.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import threading
import time
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
SAMPLE_INTERVAL_S = 0.005


def _status_kib(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status, in bytes; None off Linux."""
    try:
        text = _STATUS.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return None


def current_rss_bytes() -> int | None:
    """This process's resident set size now."""
    return _status_kib("VmRSS")


def _reset_high_water_mark() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, looked up once (None where there is none)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


def release_free_memory() -> None:
    """Collect garbage and return free heap pages to the OS (glibc only; else a no-op)."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class PhaseMeter:
    """Context manager measuring wall seconds and peak memory of the code inside.

    Args:
        device: a torch.device or its string; ``cuda`` uses the allocator's peak.

    Attributes:
        seconds: wall time, after exit.
        peak_memory_bytes: the process's peak RSS during the block (CPU) or the peak
            allocated (CUDA).
        above_start_bytes: the CPU peak above the RSS at the start (0 on CUDA).
    """

    def __init__(self, device="cpu"):
        self.device = str(device)
        self.seconds = 0.0
        self.peak_memory_bytes = 0
        self.above_start_bytes = 0
        self._sampler: threading.Thread | None = None
        self._stop = threading.Event()
        self._sampled_peak = 0

    def __enter__(self) -> PhaseMeter:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            release_free_memory()
        self._baseline = current_rss_bytes() or 0
        self._exact = _reset_high_water_mark() and _status_kib("VmHWM") is not None
        if not self._exact:
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()
        self._start = time.perf_counter()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL_S):
            self._sampled_peak = max(self._sampled_peak, current_rss_bytes() or 0)

    def __exit__(self, *exc) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
            self.peak_memory_bytes = int(torch.cuda.max_memory_allocated())
        self.seconds = time.perf_counter() - self._start
        if self._sampler is not None:
            self._stop.set()
            self._sampler.join()
        if not self.device.startswith("cuda"):
            peak = max((_status_kib("VmHWM") if self._exact else self._sampled_peak) or 0,
                       current_rss_bytes() or 0, self._baseline)
            self.peak_memory_bytes = peak
            self.above_start_bytes = peak - self._baseline
