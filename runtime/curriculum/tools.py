"""Tool use measured by decoding: the model writes calculator calls, the runtime runs them.

On held-out ``tool_use`` questions, greedy decoding twice (``runtime.eval.generation``):

- with tools: a finished ``<|tool|>...<|/tool|>`` pauses decoding, the safe calculator
  runs it and ``<|result|>...<|/result|>`` is inserted (at most ``max_calls`` calls);
- without tools: nothing is executed; the model writes on, its own ``<|result|>`` span
  included, and its answer is what follows its last ``<|/result|>``.

Metrics: ``tool.validity`` (share of questions with at least one call, every call
running without a calculator error), ``tool.correctness`` (share whose first call
returned the question's true value), ``tool.calls`` (calls per question),
``tool.accuracy_with_tools`` and ``tool.accuracy_without_tools`` (the family's exact
scorer on the final answer).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from runtime.data import TASKS
from runtime.data.example import Example
from runtime.data.formatting import format_example
from runtime.data.tokens import EOS, RESULT_CLOSE, RESULT_OPEN, SPECIAL_TOKENS, TOOL_CLOSE
from runtime.eval.generation import Completion, greedy_generate

_RESULT = re.compile(re.escape(RESULT_OPEN) + "(.*?)" + re.escape(RESULT_CLOSE), re.DOTALL)


def call_results(transcript: str) -> list[str]:
    """The results inserted after each executed call, in order."""
    return [m.strip() for m in _RESULT.findall(transcript)]


def answer_without_tools(transcript: str) -> str:
    """The answer the model wrote itself: after its last ``<|/result|>``, before ``<|eos|>``,
    special tokens removed."""
    text = transcript.split(EOS)[0]
    if RESULT_CLOSE in text:
        text = text.rsplit(RESULT_CLOSE, 1)[1]
    elif TOOL_CLOSE in text:  # a call but no result written: what follows the call
        text = text.rsplit(TOOL_CLOSE, 1)[1]
    for token in SPECIAL_TOKENS:
        text = text.replace(token, "")
    return text


def episode_scores(example: Example, with_tools: Completion) -> tuple[bool, bool]:
    """``(valid, correct)`` of one episode decoded with tools."""
    results = call_results(with_tools.transcript)
    if with_tools.tool_calls == 0 or not results:
        return False, False
    valid = all(not r.startswith("error") for r in results)
    truth = example.meta.get("tool_result", example.answer)
    return valid, results[0] == truth


def measure_tools(model, tokenizer, examples: Sequence[Example], *, max_calls: int,
                  max_new_tokens: int, batch_size: int, device) -> dict[str, float]:
    """The ``tool.*`` metrics of ``model`` on held-out tool-use ``examples``."""
    if not examples:
        raise ValueError("measure_tools needs at least one example")
    was_training = model.training
    model.eval()
    prompts = [format_example(ex)[0] for ex in examples]
    try:
        tooled = greedy_generate(model, tokenizer, prompts, max_new_tokens, batch_size, device,
                                 max_tool_calls=max_calls)
        plain = greedy_generate(model, tokenizer, prompts, max_new_tokens, batch_size, device,
                                max_tool_calls=0)
    finally:
        model.train(was_training)
    family = TASKS.get("tool_use")
    scores = [episode_scores(ex, c) for ex, c in zip(examples, tooled, strict=True)]
    n = len(examples)
    return {"tool.validity": sum(v for v, _ in scores) / n,
            "tool.correctness": sum(c for _, c in scores) / n,
            "tool.calls": sum(c.tool_calls for c in tooled) / n,
            "tool.accuracy_with_tools": sum(family.score(c.prediction, ex) for ex, c
                                            in zip(examples, tooled, strict=True)) / n,
            "tool.accuracy_without_tools": sum(
                family.score(answer_without_tools(c.transcript), ex)
                for ex, c in zip(examples, plain, strict=True)) / n}

