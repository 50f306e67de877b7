"""General English text from templates: a small world of animals, places and habits.

The prompt is a short story (context sentences at higher levels) ending in a
sentence prefix whose completion follows from the world's facts, so the answer is
exact and learnable while the text still exercises ordinary language modelling.
"""

from __future__ import annotations

import random

from runtime.data.example import Example, exact_match
from runtime.data.registry import check_level

# animal -> (what it says, what it does)
ANIMALS: dict[str, tuple[str, str]] = {
    "dog": ("woof", "runs"), "cat": ("meow", "sleeps"), "cow": ("moo", "eats grass"),
    "bird": ("tweet", "sings"), "duck": ("quack", "swims"), "sheep": ("baa", "eats grass"),
    "horse": ("neigh", "runs"), "frog": ("ribbit", "jumps"), "owl": ("hoot", "flies"),
    "lion": ("roar", "hunts"),
}
ADJECTIVES = ("small", "big", "old", "young", "happy", "lazy", "brown", "white")
PLACES = ("park", "farm", "garden", "field", "river", "barn", "forest", "yard")


def context_sentences(level: int) -> int:
    """0 context sentences at levels 1-3, up to 3 at level 10 (keeps texts under ~128 chars)."""
    return (check_level(level) - 1) // 3


def _context(rng: random.Random) -> str:
    animal = rng.choice(list(ANIMALS))
    return f"the {rng.choice(ADJECTIVES)} {animal} {ANIMALS[animal][1]} in the {rng.choice(PLACES)}."


class General:
    """``"the old cat in the yard says"`` -> ``"meow."`` after 0-3 context sentences."""

    name = "general"
    summary = "template English about animals; levels add context sentences"

    def generate(self, rng: random.Random, level: int) -> Example:
        sentences = [_context(rng) for _ in range(context_sentences(level))]
        animal = rng.choice(list(ANIMALS))
        sound, habit = ANIMALS[animal]
        subject = f"the {rng.choice(ADJECTIVES)} {animal} in the {rng.choice(PLACES)}"
        ask_sound = rng.random() < 0.5
        sentences.append(f"{subject} says" if ask_sound else f"{subject} usually")
        answer = f"{sound}." if ask_sound else f"{habit}."
        return Example(" ".join(sentences), answer, self.name, level, {"animal": animal})

    def score(self, prediction: str, example: Example) -> bool:
        return exact_match(prediction, example)
