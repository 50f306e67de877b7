"""Rule-following prompts: a formatting rule plus a question -> the answer obeying it."""

from __future__ import annotations

import random
from collections.abc import Callable

from runtime.data.example import Example, exact_match
from runtime.data.families.questions import draw_question
from runtime.data.registry import check_level

# rule id -> (rule text shown in the prompt, how the plain answer must be written)
RULES: dict[str, tuple[str, Callable[[str], str]]] = {
    "upper": ("Always answer in upper case.", str.upper),
    "period": ("End your answer with '.'.", lambda a: f"{a}."),
    "brackets": ("Put your answer in [ ].", lambda a: f"[{a}]"),
    "twice": ("Say your answer twice.", lambda a: f"{a} {a}"),
    "prefix": ("Start your answer with 'A:'.", lambda a: f"A: {a}"),
}


class Rules:
    """``"Rule: Always answer in upper case. Q: What color is grass?"`` -> ``"GREEN"``."""

    name = "rules"
    summary = "rule + question -> answer written exactly as the rule says"

    def generate(self, rng: random.Random, level: int) -> Example:
        rule = rng.choice(list(RULES))
        text, apply = RULES[rule]
        question, plain = draw_question(rng, check_level(level))
        return Example(f"Rule: {text} Q: {question}", apply(plain), self.name, level,
                       {"rule": rule, "plain_answer": plain})

    def score(self, prediction: str, example: Example) -> bool:
        return exact_match(prediction, example)
