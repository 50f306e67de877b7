"""The model writes persona prompts itself: samples after a persona-generation prompt.

The model sees ``instruction + "<|sep|>"`` (the suite's prompt format) and samples
``count`` continuations of at most ``max_tokens`` tokens at temperature 1, all in one
batch (every row has the same prompt, so no padding is needed), until each has written
its end token. Draws use a CPU ``torch.Generator`` seeded by ``seed``: the same model and
seed give the same personas on any device. There is no KV cache (the Cognate model has
none), so each token reruns the prefix.
"""

from __future__ import annotations

import torch

from runtime.data.tokens import SEP


@torch.no_grad()
def _sample(model, prompt_ids: list[int], count: int, max_tokens: int, eos_id: int | None,
            generator: torch.Generator, device) -> torch.Tensor:
    """(count, <= max_tokens) tokens sampled after ``prompt_ids``; stops once every row has
    written ``eos_id``."""
    ids = torch.tensor([prompt_ids] * count, dtype=torch.long, device=device)  # (N, T)
    out = ids.new_empty(count, 0)  # (N, 0)
    finished = torch.zeros(count, dtype=torch.bool)
    for _ in range(max_tokens):
        logits = model(input_ids=torch.cat([ids, out], dim=1)).logits[:, -1]  # (N, V)
        probs = torch.softmax(logits.float(), dim=-1).cpu()  # (N, V)
        token = torch.multinomial(probs, 1, generator=generator)  # (N, 1)
        out = torch.cat([out, token.to(device)], dim=1)
        if eos_id is not None:
            finished |= token[:, 0] == eos_id
            if bool(finished.all()):
                break
    return out.cpu()


def _text(tokenizer, row: list[int]) -> str:
    """A sampled row as text: cut before its first end token, special tokens dropped."""
    eos_id = tokenizer.eos_token_id
    if eos_id is not None and eos_id in row:
        row = row[: row.index(eos_id)]
    return " ".join(tokenizer.decode(row, skip_special_tokens=True).split())


def write_personas(model, tokenizer, instruction: str, count: int, max_tokens: int, *,
                   seed: int, device) -> list[str]:
    """``count`` persona prompts the model writes after ``instruction``.

    Args:
        model: a causal LM in eval mode (the Cognate model or any transformers one).
        tokenizer: its tokenizer (``eos_token_id``; the suite's ``<|sep|>``, if it has it,
            ends the instruction as it ends every suite prompt).
        instruction: the persona-generation prompt.
        count: personas to write.
        max_tokens: tokens sampled per persona at most.
        seed: seeds the draws.
        device: where the model runs.

    Returns:
        The personas' texts (whitespace-normalised; '' when the model ended at once).
    """
    if count < 1 or max_tokens < 1:
        raise ValueError("write_personas needs count >= 1 and max_tokens >= 1")
    prompt_ids = list(tokenizer(f"{instruction}{SEP}").input_ids)
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        rows = _sample(model, prompt_ids, count, max_tokens, tokenizer.eos_token_id, generator,
                       device)
    finally:
        model.train(was_training)
    return [_text(tokenizer, row) for row in rows.tolist()]


def fit_persona(tokenizer, persona: str, max_tokens: int) -> str:
    """``persona`` cut to its first ``max_tokens`` tokens (text that re-encodes longer than
    it was sampled, e.g. after decoding, must not push episodes past the context)."""
    ids = list(tokenizer(persona, add_special_tokens=False).input_ids)
    if len(ids) <= max_tokens:
        return persona
    return " ".join(tokenizer.decode(ids[:max_tokens], skip_special_tokens=True).split())
