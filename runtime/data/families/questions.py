"""Short questions with exact plain answers, and the family shape that persona and rules share."""

from __future__ import annotations

import random

from runtime.data.example import Example, exact_match
from runtime.data.families.general import ANIMALS
from runtime.data.registry import check_level

COLORS = {"sky": "blue", "grass": "green", "snow": "white", "coal": "black",
          "a banana": "yellow", "a tomato": "red", "an orange": "orange", "milk": "white"}
OPPOSITES = {"hot": "cold", "big": "small", "up": "down", "fast": "slow", "day": "night",
             "old": "new", "wet": "dry", "open": "closed"}


def draw_question(rng: random.Random, level: int) -> tuple[str, str]:
    """A ``(question, plain answer)`` pair; numbers grow with ``level``."""
    kind = rng.choice(("color", "opposite", "sound", "next", "sum"))
    if kind == "color":
        thing = rng.choice(list(COLORS))
        return f"What color is {thing}?", COLORS[thing]
    if kind == "opposite":
        word = rng.choice(list(OPPOSITES))
        return f"What is the opposite of {word}?", OPPOSITES[word]
    if kind == "sound":
        animal = rng.choice(list(ANIMALS))
        return f"What does a {animal} say?", ANIMALS[animal][0]
    top = 10 * level
    if kind == "next":
        n = rng.randint(0, top)
        return f"What comes after {n}?", str(n + 1)
    a, b = rng.randint(0, top), rng.randint(0, top)
    return f"What is {a} plus {b}?", str(a + b)


class StyledQuestionFamily:
    """A question whose plain answer must be rewritten by a style named in the prompt.

    Subclasses set ``styles`` (id -> (text shown in the prompt, answer rewrite)),
    ``prompt_prefix`` and ``meta_key``; persona and rules prompts are both this shape.
    """

    name = ""
    styles: dict = {}
    prompt_prefix = ""
    meta_key = "style"

    def generate(self, rng: random.Random, level: int) -> Example:
        style_id = rng.choice(list(self.styles))
        text, rewrite = self.styles[style_id]
        question, plain = draw_question(rng, check_level(level))
        return Example(f"{self.prompt_prefix}{text} Q: {question}", rewrite(plain), self.name,
                       level, {self.meta_key: style_id, "plain_answer": plain})

    def score(self, prediction: str, example: Example) -> bool:
        return exact_match(prediction, example)
