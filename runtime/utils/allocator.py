"""Keep freed CPU memory inside the process, so a training step stops re-faulting pages.

A training step allocates and frees hundreds of activation and gradient tensors. glibc's
malloc serves the larger ones (above its mmap threshold, 128 KiB to start) with fresh
``mmap`` pages and hands them back on ``free``; it also trims the top of its heap back to the
kernel. The next step then pays a page fault for every 4 KiB page it touches again: on the
2-core development VM a tiny Cognate step on the phase's batches took 1,500-2,000 minor
faults, and under 100 with the thresholds below, which made it 3-7% faster (lock-step A/B
on the same batches; docs/cognate.md). PyTorch's CPU tuning guide recommends jemalloc or
tcmalloc for the same reason; raising glibc's thresholds needs no extra library.

The settings are process-wide and change where freed memory waits for reuse. That costs
peak memory where batch shapes vary: freed heap is kept at the size of the largest step so
far and fragments across shapes. Measured on tiny's quietstar thought training (batches
from 28x14 to 88x34 rows x tokens): peak RSS 1,111 MiB with these settings, 904 MiB with
glibc's defaults, while the memory in use stayed level (``mallinfo2``). Elsewhere than
Linux with glibc nothing changes; they override the ``MALLOC_*`` environment variables.
"""

from __future__ import annotations

import ctypes
import functools
import sys

M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 2**20  # glibc's largest (64-bit); bigger blocks are still mmapped
TRIM_THRESHOLD_BYTES = 2**30  # keep up to 1 GiB of freed heap instead of trimming it


@functools.cache
def retain_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; True when they were set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
            and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1)
