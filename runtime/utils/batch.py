"""Adaptive batch size: the largest batch whose memory fits a budget (torch-free)."""

from __future__ import annotations


def adaptive_batch_size(per_sample_bytes: int, budget_bytes: int, fixed_bytes: int = 0,
                        min_batch: int = 1, max_batch: int = 1024, headroom: float = 0.8,
                        power_of_two: bool = True) -> int:
    """The largest batch size whose memory fits ``headroom`` of the budget.

    memory(batch) = fixed_bytes + batch * per_sample_bytes, where ``fixed_bytes`` covers
    weights, gradients and optimiser state and ``per_sample_bytes`` the activations of
    one sample (both measured or estimated by the kernel).

    Args:
        per_sample_bytes: activation bytes of one sample; > 0.
        budget_bytes: memory available on the device (RAM or VRAM).
        fixed_bytes: memory used regardless of the batch size.
        min_batch: the smallest acceptable batch.
        max_batch: never go above this (more rarely helps small models).
        headroom: fraction of the budget to fill; the rest absorbs allocator slack.
        power_of_two: round down to a power of two (kernels run faster on such shapes).

    Raises:
        ValueError: bad arguments, or not even ``min_batch`` fits the budget.
    """
    if per_sample_bytes <= 0 or budget_bytes <= 0:
        raise ValueError("per_sample_bytes and budget_bytes must be positive")
    if not 0 < headroom <= 1 or not 1 <= min_batch <= max_batch:
        raise ValueError("need 0 < headroom <= 1 and 1 <= min_batch <= max_batch")
    usable = int(budget_bytes * headroom) - fixed_bytes
    fits = usable // per_sample_bytes
    if fits < min_batch:
        need = fixed_bytes + min_batch * per_sample_bytes
        raise ValueError(f"batch size {min_batch} needs {need:,} B but only "
                         f"{int(budget_bytes * headroom):,} B of the {budget_bytes:,} B budget "
                         "may be used; lower the model size or sequence length")
    batch = min(int(fits), max_batch)
    if power_of_two:
        batch = 1 << (batch.bit_length() - 1)
        batch = max(batch, min_batch)
    return batch
