"""Persona/style prompts: a persona instruction plus a question -> an exactly styled answer."""

from __future__ import annotations

import random
from collections.abc import Callable

from runtime.data.example import Example, exact_match
from runtime.data.families.questions import draw_question
from runtime.data.registry import check_level

# persona -> (instruction, styling of the plain answer); each style is exactly checkable.
PERSONAS: dict[str, tuple[str, Callable[[str], str]]] = {
    "pirate": ("Talk like a pirate.", lambda a: f"Arr, {a}!"),
    "robot": ("You are a robot.", lambda a: f"{a.upper()}. BEEP."),
    "butler": ("You are a polite butler.", lambda a: f"{a}, sir."),
    "friend": ("You are a cheerful friend.", lambda a: f"{a} :)"),
}


class Persona:
    """``"Talk like a pirate. Q: What color is snow?"`` -> ``"Arr, white!"``."""

    name = "persona"
    summary = "persona instruction + question -> answer in that persona's exact style"

    def generate(self, rng: random.Random, level: int) -> Example:
        persona = rng.choice(list(PERSONAS))
        instruction, style = PERSONAS[persona]
        question, plain = draw_question(rng, check_level(level))
        return Example(f"{instruction} Q: {question}", style(plain), self.name, level,
                       {"persona": persona, "plain_answer": plain})

    def score(self, prediction: str, example: Example) -> bool:
        return exact_match(prediction, example)
