"""Tool use measured by decoding: a scripted model that writes the right calculator call
scores validity, correctness and accuracy 1 with tools, and without the runtime's result
its own guess is what counts."""

from __future__ import annotations

import pytest
import torch

from runtime.curriculum.tools import (
    answer_without_tools,
    call_results,
    episode_scores,
    measure_tools,
)
from runtime.data import make_split
from runtime.data.tokens import RESULT_CLOSE, SEP, TOOL_CLOSE
from runtime.eval.generation import Completion
from tests.runtime.phases.kernel_inputs import suite_tokenizer


class ScriptedToolUser:
    """Writes ``<|tool|>calc(<the question's expression>)<|/tool|>``; after a result it
    copies the result as the answer; without one it writes a wrong result of its own."""

    training = False

    def __init__(self, tokenizer, calls: dict[str, str], bad: bool = False) -> None:
        self.tokenizer, self.calls, self.bad = tokenizer, calls, bad

    def eval(self):
        return self

    def train(self, mode: bool = True):
        return self

    def parameters(self):
        return iter([torch.zeros(1)])

    def _continue(self, text: str) -> str:
        if text.endswith(RESULT_CLOSE):
            return text.rsplit("<|result|>", 1)[1][:-len(RESULT_CLOSE)] + "<|eos|>"
        if text.endswith(TOOL_CLOSE):
            return "<|result|>-1<|/result|>-1<|eos|>"
        question = text.split(SEP)[0].replace("<|bos|>", "")
        call = "calc(1/0)" if self.bad else self.calls[question]
        return f"<|tool|>{call}<|/tool|>"

    def generate(self, input_ids, max_new_tokens, eos_token_id, **_):
        rows = []
        for row in input_ids.tolist():
            text = self.tokenizer.decode(row, skip_special_tokens=False)
            new = self.tokenizer(self._continue(text), add_special_tokens=False)["input_ids"]
            rows.append(row + new[:max_new_tokens])
        width = max(len(r) for r in rows)
        return torch.tensor([r + [0] * (width - len(r)) for r in rows])


@pytest.fixture(scope="module")
def episodes():
    return make_split(["tool_use"], 6, seed=2, split="heldout", levels=[1, 2])


def _measure(model, episodes):
    return measure_tools(model, suite_tokenizer(), episodes, max_calls=2, max_new_tokens=40,
                         batch_size=4, device="cpu")


def test_a_perfect_tool_user_scores_one_with_tools_and_not_without(episodes):
    calls = {ex.prompt: ex.meta["tool_call"] for ex in episodes}
    m = _measure(ScriptedToolUser(suite_tokenizer(), calls), episodes)
    assert m["tool.validity"] == m["tool.correctness"] == m["tool.accuracy_with_tools"] == 1.0
    assert m["tool.calls"] == 1.0
    assert m["tool.accuracy_without_tools"] == 0.0  # its own result, -1, is never the answer


def test_a_call_the_calculator_refuses_is_invalid(episodes):
    m = _measure(ScriptedToolUser(suite_tokenizer(), {}, bad=True), episodes)
    assert m["tool.validity"] == m["tool.correctness"] == 0.0 and m["tool.calls"] == 1.0


def test_transcript_parsing():
    transcript = "<|tool|>calc(2+3)<|/tool|><|result|>5<|/result|>5<|eos|>"
    assert call_results(transcript) == ["5"]
    assert answer_without_tools("<|tool|>calc(2+3)<|/tool|><|result|>6<|/result|>6<|eos|>x") == "6"
    assert answer_without_tools("<|tool|>calc(2+3)<|/tool|>7<|eos|>") == "7"
    assert answer_without_tools("8<|eos|>") == "8"
    example = make_split(["tool_use"], 1, seed=0)[0]
    good = Completion(example.answer, f"<|tool|>{example.meta['tool_call']}<|/tool|>"
                      f"<|result|>{example.answer}<|/result|>{example.answer}", 1)
    assert episode_scores(example, good) == (True, True)
    assert episode_scores(example, Completion("3", "3", 0)) == (False, False)
