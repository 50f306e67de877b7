"""Greedy generation through ``model.generate()``, executing calculator tool calls.

Prompts are batched only with prompts of the same token length, so no padding is
ever needed: a model that ignores ``attention_mask`` (or mishandles left padding)
still gets exactly the result it would give one prompt at a time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from runtime.data.calculator import run_tool_call, tool_result_text
from runtime.data.tokens import TOOL_CLOSE, TOOL_OPEN


@dataclass
class Transcript:
    """One prompt's growing token sequence during generation."""

    ids: list[int]
    answer_start: int  # first token of the text after the last inserted tool result
    generated: int = 0  # tokens the model wrote (inserted results do not count)
    tool_calls: int = 0
    done: bool = False


@dataclass(frozen=True)
class Completion:
    """What the model produced for one prompt.

    Attributes:
        prediction: The answer text (after the last tool result, special tokens removed).
        transcript: Everything after the prompt, special tokens and tool results kept.
        tool_calls: How many tool calls the runtime executed.
    """

    prediction: str
    transcript: str
    tool_calls: int


def model_device(model) -> torch.device:
    """The device of the model's first parameter (CPU for a parameterless model)."""
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def _special_id(tokenizer, token: str) -> int | None:
    """Id of a special token, or None when the tokenizer lacks it."""
    token_id = tokenizer.convert_tokens_to_ids(token)
    return None if token_id is None or token_id == tokenizer.unk_token_id else token_id


@torch.no_grad()
def _generate_rows(model, rows: list[list[int]], max_new_tokens: int, stop_ids: list[int],
                   pad_id: int, device) -> list[list[int]]:
    """Generate for equal-length rows; each result is cut just after its first stop token."""
    input_ids = torch.tensor(rows, dtype=torch.long, device=device)  # (B, T)
    output = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                            max_new_tokens=max_new_tokens, do_sample=False,
                            eos_token_id=stop_ids, pad_token_id=pad_id)
    new_tokens = output[:, input_ids.shape[1]:].tolist()  # (B, <= max_new_tokens)
    cut = []
    for tokens in new_tokens:
        stop = next((i for i, t in enumerate(tokens) if t in stop_ids), len(tokens) - 1)
        cut.append(tokens[: stop + 1])
    return cut


class ToolLoop:
    """Greedy generation for many prompts, running tool calls between rounds."""

    def __init__(self, model, tokenizer, max_new_tokens: int, batch_size: int, device,
                 max_tool_calls: int) -> None:
        self.model, self.tokenizer, self.device = model, tokenizer, device
        self.max_new_tokens, self.batch_size = max_new_tokens, batch_size
        self.max_tool_calls = max_tool_calls
        self.tool_open = _special_id(tokenizer, TOOL_OPEN)
        self.tool_close = _special_id(tokenizer, TOOL_CLOSE)
        self.stop_ids = [tokenizer.eos_token_id]
        if self.tool_close is not None and max_tool_calls > 0:
            self.stop_ids.append(self.tool_close)

    def run(self, prompts: Sequence[str]) -> list[Completion]:
        """Generate until every prompt hits ``<|eos|>``, its budget or its tool-call limit."""
        states = []
        for prompt in prompts:
            ids = self.tokenizer(prompt)["input_ids"]
            states.append(Transcript(ids, answer_start=len(ids)))
        prompt_lengths = [len(state.ids) for state in states]
        while any(not state.done for state in states):
            self._round([state for state in states if not state.done])
        return [self._completion(s, n) for s, n in zip(states, prompt_lengths, strict=True)]

    def _round(self, active: list[Transcript]) -> None:
        """One generate() call per batch of same-length, same-budget transcripts."""
        groups: dict[tuple[int, int], list[Transcript]] = defaultdict(list)
        for state in active:
            groups[(len(state.ids), self.max_new_tokens - state.generated)].append(state)
        for (_, budget), group in sorted(groups.items()):
            for start in range(0, len(group), self.batch_size):
                batch = group[start: start + self.batch_size]
                outputs = _generate_rows(self.model, [s.ids for s in batch], budget,
                                         self.stop_ids, self.tokenizer.pad_token_id, self.device)
                for state, tokens in zip(batch, outputs, strict=True):
                    self._advance(state, tokens)

    def _advance(self, state: Transcript, tokens: list[int]) -> None:
        """Append the model's tokens; execute a finished tool call or mark the prompt done."""
        state.ids += tokens
        state.generated += len(tokens)
        called = bool(tokens) and tokens[-1] == self.tool_close
        if not called or state.tool_calls >= self.max_tool_calls:
            state.done = True
            return
        call_ids = state.ids[state.answer_start: -1]
        if self.tool_open in call_ids:  # the call is what follows the last <|tool|>
            call_ids = call_ids[len(call_ids) - call_ids[::-1].index(self.tool_open):]
        call = self.tokenizer.decode(call_ids, skip_special_tokens=True)
        result = tool_result_text(run_tool_call(call))
        state.ids += self.tokenizer(result, add_special_tokens=False)["input_ids"]
        state.answer_start = len(state.ids)
        state.tool_calls += 1
        state.done = state.generated >= self.max_new_tokens

    def _completion(self, state: Transcript, prompt_length: int) -> Completion:
        answer = state.ids[state.answer_start:]
        if self.tokenizer.eos_token_id in answer:
            answer = answer[: answer.index(self.tokenizer.eos_token_id)]
        return Completion(
            prediction=self.tokenizer.decode(answer, skip_special_tokens=True),
            transcript=self.tokenizer.decode(state.ids[prompt_length:], skip_special_tokens=False),
            tool_calls=state.tool_calls)


def greedy_generate(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 32,
                    batch_size: int = 16, device=None, max_tool_calls: int = 2) -> list[Completion]:
    """Greedy completions of ``prompts`` (``do_sample=False``), tool calls executed.

    When the model writes ``<|tool|>calc(...)<|/tool|>``, generation pauses, the safe
    calculator runs, ``<|result|>...<|/result|>`` is appended and generation resumes.

    Args:
        model: Anything with transformers' ``generate()`` (a causal LM).
        tokenizer: Tokenizer with pad/eos (and tool tokens, for tool use).
        prompts: Prompt texts (``format_example(...)[0]``).
        max_new_tokens: Budget of model-written tokens per prompt, across tool calls.
        batch_size: Most prompts per ``generate()`` call.
        device: Where inputs go; default: the model's device.
        max_tool_calls: Tool calls executed per prompt before generation stops.
    """
    if max_new_tokens < 1 or batch_size < 1:
        raise ValueError("max_new_tokens and batch_size must be >= 1")
    device = model_device(model) if device is None else torch.device(device)
    loop = ToolLoop(model, tokenizer, max_new_tokens, batch_size, device, max_tool_calls)
    return loop.run(prompts)
