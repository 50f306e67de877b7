"""Training batches of the cognate phase: padding trimmed without changing the loss."""

from __future__ import annotations

import torch

from runtime.data.encoding import IGNORE_INDEX
from runtime.phases.toolkit.batches import BatchStream, trim_padding


def _padded_batch(lengths: list[int], width: int, pad: int = 0):
    ids = torch.full((len(lengths), width), pad, dtype=torch.long)
    labels = torch.full((len(lengths), width), IGNORE_INDEX, dtype=torch.long)
    gen = torch.Generator().manual_seed(0)
    for row, n in enumerate(lengths):
        ids[row, :n] = torch.randint(1, 50, (n,), generator=gen)
        labels[row, n // 2: n] = ids[row, n // 2: n]  # answer half supervised
    return ids, labels


def test_trim_cuts_exactly_after_the_last_supervised_column():
    ids, labels = _padded_batch([5, 9, 3], width=20)
    short_ids, short_labels = trim_padding(ids, labels)
    assert short_ids.shape == (3, 9) and short_labels.shape == (3, 9)
    assert torch.equal(short_ids, ids[:, :9])


def test_trimmed_batch_gives_the_same_loss_and_gradients():
    from runtime.nn import TrmTitansMagForCausalLM
    from runtime.nn.presets import preset_config

    torch.manual_seed(0)
    model = TrmTitansMagForCausalLM(preset_config("smoke"))
    ids, labels = _padded_batch([7, 12, 4, 10], width=40)
    full = model(input_ids=ids, labels=labels).loss
    full.backward()
    # a parameter the trimmed batch never reaches (e.g. a memory write past the first
    # chunk) has no gradient there, and a zero one on the full batch
    grads = [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    short_ids, short_labels = trim_padding(ids, labels)
    trimmed = model(input_ids=short_ids, labels=short_labels).loss
    trimmed.backward()
    assert torch.allclose(full, trimmed, atol=1e-6)
    trimmed_grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in model.parameters()]
    assert all(torch.allclose(g, t, atol=1e-6) for g, t in zip(grads, trimmed_grads, strict=True))


def test_stream_batches_are_trimmed_and_repeatable():
    ids, labels = _padded_batch([3, 4, 5, 6, 30, 4], width=40)
    stream = BatchStream(ids, labels, batch_size=2, seed=1)
    widths = {stream(s)[0].shape[1] for s in range(6)}
    assert max(widths) <= 30 and min(widths) < 30
    assert all(torch.equal(stream(s)[0], stream(s)[0]) for s in range(6))
