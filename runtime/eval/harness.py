"""Accuracy per task family and level, measured by greedy generation on examples."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from runtime.data.example import Example, exact_match
from runtime.data.families import TASKS
from runtime.data.formatting import format_example
from runtime.data.registry import TaskRegistry
from runtime.eval.generation import greedy_generate


@dataclass(frozen=True)
class EvalRecord:
    """One scored example: what the model answered and whether it was right."""

    example: Example
    prediction: str
    transcript: str
    correct: bool
    tool_calls: int = 0


@dataclass
class EvalResult:
    """Metrics of one evaluation plus the per-example records behind them.

    Attributes:
        metrics: ``accuracy`` (mean over examples), ``accuracy.<family>`` and
            ``accuracy.<family>.level<k>``, each in [0, 1].
        counts: Number of examples behind each metric (same keys).
        records: Every example with its prediction.
    """

    metrics: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    records: list[EvalRecord] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        """Overall accuracy (mean over examples)."""
        return self.metrics["accuracy"]

    def __getitem__(self, name: str) -> float:
        return self.metrics[name]


def summarise(records: Sequence[EvalRecord]) -> EvalResult:
    """Aggregate records into the accuracy metrics."""
    hits: dict[str, list[bool]] = defaultdict(list)
    for record in records:
        family, level = record.example.family, record.example.level
        for name in ("accuracy", f"accuracy.{family}", f"accuracy.{family}.level{level}"):
            hits[name].append(record.correct)
    metrics = {name: sum(values) / len(values) for name, values in sorted(hits.items())}
    counts = {name: len(values) for name, values in sorted(hits.items())}
    return EvalResult(metrics, counts, list(records))


def score(example: Example, prediction: str, registry: TaskRegistry = TASKS) -> bool:
    """The family's exact scorer; plain exact match for families not in the registry (JSONL)."""
    if example.family in registry:
        return registry.get(example.family).score(prediction, example)
    return exact_match(prediction, example)


def evaluate(model, tokenizer, examples: Sequence[Example], max_new_tokens: int = 32,
             batch_size: int = 16, device=None, registry: TaskRegistry = TASKS,
             max_tool_calls: int = 2) -> EvalResult:
    """Measure exact-match accuracy with greedy ``generate()``.

    Args:
        model: A causal LM with transformers' ``generate()``; put in eval mode for the
            call and restored afterwards.
        tokenizer: Its tokenizer (``build_tokenizer`` output or compatible).
        examples: Examples to score (e.g. ``make_split(..., split="heldout")``).
        max_new_tokens: Budget of model-written tokens per example.
        batch_size: Most prompts per ``generate()`` call.
        device: Where inputs go; default: the model's device.
        registry: Families whose scorers are used.
        max_tool_calls: Calculator calls executed per example.

    Returns:
        An EvalResult with ``accuracy``, ``accuracy.<family>``,
        ``accuracy.<family>.level<k>`` and the records.
    """
    if not examples:
        raise ValueError("evaluate needs at least one example")
    prompts = [format_example(example)[0] for example in examples]
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()  # dropout off: greedy answers must be deterministic
    try:
        completions = greedy_generate(model, tokenizer, prompts, max_new_tokens, batch_size,
                                      device, max_tool_calls)
    finally:
        if was_training:
            model.train()
    records = [EvalRecord(example, c.prediction, c.transcript,
                          score(example, c.prediction, registry), c.tool_calls)
               for example, c in zip(examples, completions, strict=True)]
    return summarise(records)
