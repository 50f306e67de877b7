"""Measuring the prompt's effect: the recovered fraction and the style scorer."""

from __future__ import annotations

import pytest

from runtime.baking.effect import prompt_effect, recovered_fraction, style_score
from runtime.data import Example
from runtime.data.families.persona import PERSONAS
from runtime.data.families.rules import RULES
from tests.runtime.baking.tiny import cognate

EXAMPLE = Example("Q: What color is snow?", "Arr, white!", "persona")


def test_recovered_fraction():
    assert recovered_fraction(0.1, 0.9, 0.5) == pytest.approx(0.5)
    assert recovered_fraction(0.1, 0.9, 0.9) == pytest.approx(1.0)
    assert recovered_fraction(0.2, 0.2, 0.7) is None


def test_style_score_detects_the_frame_not_the_content():
    pirate = style_score(PERSONAS["pirate"][1])
    assert pirate("Arr, black!", EXAMPLE) and pirate(" Arr,  seven! ", EXAMPLE)
    assert not pirate("white", EXAMPLE) and not pirate("Arr, !", EXAMPLE)
    assert style_score(RULES["brackets"][1])("[blue]", EXAMPLE)
    with pytest.raises(ValueError, match="frames"):
        style_score(RULES["upper"][1])


def test_prompt_effect_scores_three_runs(tokenizer):
    base = cognate()
    calls = []

    def score(prediction: str, example: Example) -> bool:
        calls.append(example.prompt)
        return example.prompt.startswith("Talk")  # "effect" only where the prompt is shown

    effect = prompt_effect(base, base, tokenizer, "Talk like a pirate.", [EXAMPLE], score,
                           device="cpu", max_new_tokens=2)
    assert calls == ["Q: What color is snow?", "Talk like a pirate. Q: What color is snow?",
                     "Q: What color is snow?"]
    assert (effect.base, effect.prompted, effect.baked, effect.recovered) == (0.0, 1.0, 0.0, 0.0)
