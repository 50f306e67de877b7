"""A fake, model-free candidate evaluation for search tests: fast and deterministic.

Metrics are a fixed function of the genome (a stand-in for running a model), and each
"prediction" is a digest of the genome's settings per example, so different genomes
disagree on some examples and equal genomes agree on all.
"""

from __future__ import annotations

import hashlib

from forgelang.kinds.techniques import TECHNIQUES
from runtime.evolution import INPUT, Genome, GenomeSpace, Measurement

EXAMPLES = 8


def space(names=("linear", "slerp", "ties", "dare", "frankenmerge", "dfs"), depths=(2, 2, 2),
          **settings) -> GenomeSpace:
    techniques = tuple(TECHNIQUES.parse({"type": n, **settings.get(n, {})}) for n in names)
    return GenomeSpace(techniques, depths)


def fake_accuracy(g: Genome) -> float:
    """Input 1 scores 0.5, other inputs 0.3; merges score by how close they are to a target."""
    if g.technique == INPUT:
        return 0.5 if g.members[0] == 1 else 0.3
    score = 0.4
    if "t" in g.settings:
        score += 0.5 - abs(g.settings["t"] - 0.3)
    if g.weights:
        score += 0.3 * g.weights[1] / max(sum(g.weights), 1e-9)
    if "density" in g.settings:
        score += 0.2 * (1 - abs(g.settings["density"] - 0.5))
    return min(score, 1.0)


def fake_predictions(g: Genome) -> tuple[str, ...]:
    digest = hashlib.sha256(g.key().encode()).hexdigest()
    return tuple(digest[i] if int(digest[i], 16) < 8 else "same" for i in range(EXAMPLES))


def fake_measure(g: Genome) -> Measurement:
    acc = fake_accuracy(g)
    return Measurement({"accuracy": acc, "perplexity": 10 - 5 * acc}, fake_predictions(g))


class FakeEvaluate:
    """``evaluate(genomes, generation)`` that counts what it was asked to measure."""

    def __init__(self, measure=fake_measure):
        self.measure = measure
        self.calls: list[tuple[int, int]] = []

    def __call__(self, genomes, generation):
        self.calls.append((generation, len(genomes)))
        return [self.measure(g) for g in genomes]
