"""A padded batch gives each row exactly the logits it gives alone (queries of any length)."""

from __future__ import annotations

import torch

from runtime.baking.forward import continuation_logits, encode, left_pad, pad_id


def test_rows_of_different_lengths_match_their_lone_logits(make_model, tokenizer):
    model = make_model().eval()
    texts = ["Q: 1?<|sep|>", "Q: What is 12 plus 30, then times 4?<|sep|>",
             "Q: Name the colour of the sky on a clear day.<|sep|>"]
    rows = encode(tokenizer, texts)
    assert len({len(r) for r in rows}) == 3  # three lengths: real padding in the batch
    ids, mask = left_pad(rows, pad_id(tokenizer))
    continuation = torch.tensor([[5, 6, 7, 8]] * 3)  # (3, 4)
    with torch.no_grad():
        batched = continuation_logits(model, ids, mask, continuation)  # (3, 4, V)
        for i, row in enumerate(rows):
            alone_ids, alone_mask = left_pad([row], 0)
            alone = continuation_logits(model, alone_ids, alone_mask, continuation[i:i + 1])
            assert torch.equal(batched[i], alone[0]), f"row {i} differs when batched"
