"""Thought training keeps nothing of a step once the step is over.

On the tiny recipe the process's resident memory climbs for the first thought-training
steps and then levels off. That is glibc keeping freed heap for reuse (the training loop
asks it to, ``runtime.utils.allocator``), sized by the largest step so far: a step's
working set grows with its rows x width (the batches differ in length), nothing stays
alive. These tests pin the second half: after every step the live torch tensors and the
heap memory in use are what they were after the first one, so a reference that kept a
step's rows, scores or autograd graph would fail them.
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import sys

import pytest
import torch

from forgelang.kinds.quietstar import QuietStarParams
from runtime.phases.quietstar.kernel import train_thoughts
from runtime.phases.toolkit.inputs import load_model, load_tokenizer
from runtime.thoughts.tokens import add_thought_tokens
from tests.runtime.phases.kernel_inputs import phase_context

# the tiny recipe's thought shape and batches; seed 1234 draws batches that grow for three
# steps, then shrink (rows x width per step: 38x18, 64x27, 88x31, 88x34, 64x31 on tiny)
PARAMS = dict(thought_tokens=4, thoughts_per_position=2, steps=5, batch_size=2, seq_len=32,
              levels=[1, 2])
SEED = 1234
KiB = 1024


def _training_state(objects: list) -> set[int]:
    """Storages of what an optimiser holds on purpose: its parameters, their gradients and
    its state (created on a parameter's first gradient, which for some parameters comes
    only with the first batch wider than the model's memory chunk)."""
    held = set()
    for opt in (o for o in objects if issubclass(type(o), torch.optim.Optimizer)):
        tensors = [p for g in opt.param_groups for p in g["params"]]
        tensors += [p.grad for p in tensors if p.grad is not None]
        tensors += [v for state in opt.state.values() for v in state.values()
                    if isinstance(v, torch.Tensor)]
        held.update(t.untyped_storage().data_ptr() for t in tensors)
    return held


def step_tensor_bytes() -> int:
    """Bytes of the distinct storages of the live torch tensors the garbage collector sees,
    less the optimiser's parameters, gradients and state: what steps might leave behind."""
    gc.collect()
    objects = gc.get_objects()
    held = _training_state(objects)
    storages = {}
    for obj in objects:
        if issubclass(type(obj), torch.Tensor):
            storage = obj.untyped_storage()
            if storage.data_ptr() not in held:
                storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                 "uordblks", "fordblks", "keepcost")]


def _mallinfo2():
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = _MallInfo2
    return fn


def heap_in_use_bytes() -> int | None:
    """glibc's bytes handed out and not yet freed (heap + mmapped), None elsewhere: unlike
    the resident set size it does not count freed memory glibc keeps for reuse, and unlike
    :func:`live_tensor_bytes` it sees tensors only C++ holds (a saved autograd graph)."""
    fn = _mallinfo2()
    if fn is None:
        return None
    gc.collect()
    info = fn()
    return info.uordblks + info.hblkhd


def _per_step(tmp_path, source, measure) -> list[int]:
    """``measure()`` after each thought-training step of the tiny shape on ``source``."""
    model, tokenizer = load_model(source.path, "cpu"), load_tokenizer(source.path)
    add_thought_tokens(model, tokenizer)
    seen: list[int] = []

    def progress(_fraction, message):
        if message.startswith("thoughts step"):
            seen.append(measure())

    ctx = dataclasses.replace(phase_context(tmp_path, "quietstar", progress=progress), seed=SEED)
    train_thoughts(ctx, QuietStarParams(**PARAMS), model, tokenizer, source.path)
    assert len(seen) == PARAMS["steps"]
    return seen


def test_live_tensors_do_not_grow_from_step_to_step(source, tmp_path):
    """Besides the optimiser's parameters, gradients and state, later steps add no live
    tensor bytes but bounded caches' (``runtime.nn.memory_rule`` keeps its chunk triangles:
    2 KiB here); four steps' leaked (rows, width) token ids alone would pass the bound."""
    seen = _per_step(tmp_path, source, step_tensor_bytes)
    growth = [after - seen[0] for after in seen[1:]]
    assert max(growth) <= 8 * KiB, f"live tensor bytes after each step: {seen}"


def test_heap_in_use_does_not_grow_from_step_to_step(source, tmp_path):
    """What glibc has handed out and not got back stays level after step 1, though the
    steps' working sets differ by several times (freed memory does not count). The bound
    leaves room for optimiser state that starts late (at most 4 copies of the parameters)
    and torch's kernel caches keyed by shape (measured: under 300 KiB); a step's autograd
    graph kept alive is tens of MiB."""
    if _mallinfo2() is None:
        pytest.skip("needs glibc's mallinfo2 (Linux, glibc >= 2.33)")
    params = sum(p.numel() * p.element_size() for p in load_model(source.path, "cpu").parameters())
    seen = _per_step(tmp_path, source, heap_in_use_bytes)
    growth = [after - seen[0] for after in seen[1:]]
    assert max(growth) <= 4 * params + 1024 * KiB, f"heap bytes in use after each step: {seen}"
