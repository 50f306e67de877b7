"""How much of a prompt's measured effect a baked model keeps without the prompt.

Three measurements on the same held-out examples, each a task score of greedy answers:
the base model without the prompt, the base model with it, and the baked model without
it. The fraction recovered is ``(baked - base) / (prompted - base)``: 1 means the baked
model behaves like the prompted base, 0 like the unprompted base.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from runtime.baking.trajectories import prompted
from runtime.data.example import Example, normalise_whitespace

Score = Callable[[str, Example], bool]  # (prediction, example) -> counted as showing the effect


@dataclass(frozen=True)
class PromptEffect:
    """Scores (fractions of examples) of the three measurements, and what was recovered.

    Attributes:
        base: base model, no prompt.
        prompted: base model with the prompt.
        baked: baked model, no prompt.
        recovered: ``(baked - base) / (prompted - base)``; None when the prompt has no
            effect on the base model (nothing to recover).
    """

    base: float
    prompted: float
    baked: float
    recovered: float | None


def recovered_fraction(base: float, with_prompt: float, baked: float) -> float | None:
    """``(baked - base) / (with_prompt - base)``, None when ``with_prompt == base``."""
    if with_prompt == base:
        return None
    return (baked - base) / (with_prompt - base)


def style_score(rewrite: Callable[[str], str]) -> Score:
    """A scorer that detects a persona's or rule's style, whatever the content: the
    prediction must have the text the style puts before and after an answer (e.g.
    ``"Arr, "`` and ``"!"`` for the pirate). Styles that are not a fixed frame around the
    answer (upper case, saying it twice) are refused."""
    frame = rewrite("\x00").split("\x00")
    if len(frame) != 2 or frame == ["", ""]:
        raise ValueError("style_score needs a style that frames the answer with fixed text")
    before, after = (normalise_whitespace(part) for part in frame)

    def score(prediction: str, example: Example) -> bool:
        text = normalise_whitespace(prediction)
        inner = text[len(before):len(text) - len(after)]
        return text.startswith(before) and text.endswith(after) and bool(inner.strip())

    return score


def _score(model, tokenizer, examples: Sequence[Example], score: Score, **generation) -> float:
    """Fraction of ``examples`` whose greedy prediction ``score`` accepts."""
    from runtime.eval import evaluate

    records = evaluate(model, tokenizer, examples, **generation).records
    return sum(score(r.prediction, r.example) for r in records) / len(records)


def prompt_effect(base, baked, tokenizer, prompt: str, examples: Sequence[Example], score: Score,
                  *, device, max_new_tokens: int = 24, batch_size: int = 16) -> PromptEffect:
    """Measure the prompt's effect with and without baking.

    Args:
        base: the model before baking (keep a copy: baking works in place).
        baked: the baked model.
        tokenizer: their tokenizer.
        prompt: the baked prompt; the prompted run sees ``prompted(prompt, example.prompt)``,
            the same text the teacher saw while baking.
        examples: held-out examples whose prompts do NOT contain the prompt.
        score: ``(prediction, example) -> bool``, e.g. the family's scorer or
            :func:`style_score`.
        device: where the models run.
        max_new_tokens: greedy answer budget.
        batch_size: prompts per ``generate()`` call.

    Returns:
        A :class:`PromptEffect`.
    """
    generation = dict(max_new_tokens=max_new_tokens, batch_size=batch_size, device=device)
    with_prompt = [replace(ex, prompt=prompted(prompt, ex.prompt)) for ex in examples]
    base_score = _score(base, tokenizer, examples, score, **generation)
    prompted_score = _score(base, tokenizer, with_prompt, score, **generation)
    baked_score = _score(baked, tokenizer, examples, score, **generation)
    return PromptEffect(base_score, prompted_score, baked_score,
                        recovered_fraction(base_score, prompted_score, baked_score))
