"""Templated word problems in 10 levels: more steps and bigger numbers per level."""

from __future__ import annotations

import random

from runtime.data.example import Example, exact_match
from runtime.data.registry import check_level

NAMES = (("Ann", "She"), ("Ben", "He"), ("Cat", "She"), ("Dan", "He"), ("Eve", "She"),
         ("Sam", "He"), ("Mia", "She"), ("Tom", "He"))
ITEMS = ("apples", "pens", "cards", "coins", "books", "shells", "eggs", "stamps")
GAINS = ("buys {n} more", "finds {n} more", "gets {n} more")
LOSSES = ("eats {n}", "loses {n}", "gives away {n}")


def steps_for(level: int) -> int:
    """1 step at levels 1-2, up to 5 steps at levels 9-10."""
    return (check_level(level) + 1) // 2


def max_number(level: int) -> int:
    """Largest number written in the problem: 9 at level 1, 54 at level 10."""
    return 5 * level + 4


def _step(rng: random.Random, level: int, count: int) -> tuple[str, int]:
    """One sentence fragment and the count after it."""
    kinds = ["gain", "loss"] + (["double"] if level >= 5 else []) + (["bags"] if level >= 7 else [])
    kind = rng.choice(kinds)
    if kind == "loss" and count > 0:
        n = rng.randint(1, min(count, max_number(level)))
        return rng.choice(LOSSES).format(n=n), count - n
    if kind == "double":
        return "doubles them", 2 * count
    if kind == "bags":
        bags, each = rng.randint(2, 5), rng.randint(2, 9)
        return f"gets {bags} bags of {each}", count + bags * each
    n = rng.randint(1, max_number(level))
    return rng.choice(GAINS).format(n=n), count + n


class WordProblems:
    """``"Ann has 5 pens. She buys 3 more. How many pens now?"`` -> ``"8"``."""

    name = "word_problems"
    summary = "templated multi-step word problems; levels add steps and bigger numbers"

    def generate(self, rng: random.Random, level: int) -> Example:
        name, pronoun = rng.choice(NAMES)
        item = rng.choice(ITEMS)
        count = rng.randint(1, max_number(level))
        sentences = [f"{name} has {count} {item}."]
        for _ in range(steps_for(level)):
            text, count = _step(rng, level, count)
            sentences.append(f"{pronoun} {text}.")
        sentences.append(f"How many {item} now?")
        return Example(" ".join(sentences), str(count), self.name, level)

    def score(self, prediction: str, example: Example) -> bool:
        return exact_match(prediction, example)
