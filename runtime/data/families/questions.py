"""Short questions with exact plain answers, shared by the persona and rules families."""

from __future__ import annotations

import random

from runtime.data.families.general import ANIMALS

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
