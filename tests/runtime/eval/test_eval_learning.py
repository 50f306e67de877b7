"""End to end: tiny Llamas trained on the suite beat chance on held-out data."""

import pytest
import torch

from runtime.data import encode_for_training, make_split
from runtime.eval import evaluate


def test_tiny_llama_learns_copy_on_heldout(tokenizer, tiny_llama):
    torch.manual_seed(0)
    model = tiny_llama(hidden=64, layers=2)
    train = make_split(["copy"], 4000, seed=0, split="train", levels=[1, 2])
    heldout = make_split(["copy"], 200, seed=0, split="heldout", levels=[1, 2])
    input_ids, labels = encode_for_training(train, tokenizer, seq_len=32)  # (N, 32)
    before = evaluate(model, tokenizer, heldout, max_new_tokens=8, batch_size=64)
    _train(model, input_ids, labels, steps=300)
    after = evaluate(model, tokenizer, heldout, max_new_tokens=8, batch_size=64)
    # Chance for an exact 3-4 letter string is ~26^-3; the untrained model scores 0.
    assert before.accuracy == 0.0
    assert after.accuracy > 0.2, after.metrics
    assert after["accuracy.copy.level1"] > after["accuracy.copy.level2"]  # longer is harder


def _train(model, input_ids, labels, steps: int, lr: float = 3e-3) -> None:
    """Plain AdamW on random batches of 32 (seeded)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    order = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        batch = torch.randint(0, len(input_ids), (32,), generator=order)
        loss = model(input_ids=input_ids[batch], labels=labels[batch]).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@pytest.mark.slow
def test_tiny_llama_learns_to_call_the_calculator(tokenizer, tiny_llama):
    model = tiny_llama(hidden=64, layers=2)
    train = make_split(["tool_use"], 4000, seed=0, split="train", levels=[1, 2])
    heldout = make_split(["tool_use"], 100, seed=0, split="heldout", levels=[1, 2])
    _train(model, *encode_for_training(train, tokenizer, seq_len=64), steps=300)
    with_tool = evaluate(model, tokenizer, heldout, max_new_tokens=24)
    without_tool = evaluate(model, tokenizer, heldout, max_new_tokens=24, max_tool_calls=0)
    assert with_tool.accuracy > 0.8, with_tool.metrics
    assert all(r.tool_calls == 1 for r in with_tool.records if r.correct)
    # The answer comes from the runtime's calculator: without it the same model fails.
    assert without_tool.accuracy < 0.2, without_tool.metrics
