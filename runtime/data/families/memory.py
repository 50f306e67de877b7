"""Memory tasks: key-value recall and copy/reverse of a string."""

from __future__ import annotations

import random
import string

from runtime.data.example import Example, exact_match
from runtime.data.registry import check_level


def _key(rng: random.Random) -> str:
    return rng.choice(string.ascii_lowercase) + rng.choice(string.ascii_lowercase)


class Recall:
    """``"ab=37 cd=12 ? cd"`` -> ``"12"``; levels add pairs (2 at level 1, 11 at 10)."""

    name = "recall"
    summary = "key-value recall; levels add key-value pairs"

    def generate(self, rng: random.Random, level: int) -> Example:
        pairs = check_level(level) + 1
        keys: list[str] = []
        while len(keys) < pairs:
            key = _key(rng)
            if key not in keys:  # keys are unique so the answer is unambiguous
                keys.append(key)
        values = [str(rng.randint(10, 99)) for _ in keys]
        asked = rng.randrange(pairs)
        context = " ".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))
        return Example(f"{context} ? {keys[asked]}", values[asked], self.name, level,
                       {"position": asked})

    def score(self, prediction: str, example: Example) -> bool:
        return exact_match(prediction, example)


class Copy:
    """``"copy: abcd"`` -> ``"abcd"``, ``"reverse: abcd"`` -> ``"dcba"``; length = level + 2."""

    name = "copy"
    summary = "copy or reverse a string of letters; levels make it longer"

    def generate(self, rng: random.Random, level: int) -> Example:
        length = check_level(level) + 2
        text = "".join(rng.choice(string.ascii_lowercase) for _ in range(length))
        mode = rng.choice(("copy", "reverse"))
        answer = text if mode == "copy" else text[::-1]
        return Example(f"{mode}: {text}", answer, self.name, level, {"mode": mode})

    def score(self, prediction: str, example: Example) -> bool:
        return exact_match(prediction, example)
