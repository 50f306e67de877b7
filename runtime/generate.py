"""One prompt through one model: what ``forge generate`` does.

The prompt is formatted with the tokenizer's chat template when it has one (the suite
tokenizer's template is the task format, ``prompt + <|sep|>``: ``runtime.data.formatting``),
so a plain question gets the input the model was trained on. Decoding is greedy, and
calculator tool calls the model writes are executed as in evaluation
(``runtime.eval.generation``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_NEW_TOKENS = 64  # the suite's answers are a few tokens; tool calls add ~20


@dataclass(frozen=True)
class Generation:
    """What ``generate`` produced.

    Attributes:
        input_text: the text given to the tokenizer (the prompt after the chat template).
        answer: the answer (after the last tool result, special tokens removed).
        transcript: everything the model wrote, tool calls and results included.
        tool_calls: calculator calls executed.
    """

    input_text: str
    answer: str
    transcript: str
    tool_calls: int


def format_prompt(tokenizer, prompt: str, raw: bool = False) -> str:
    """``prompt`` as the text to tokenize: through the chat template unless ``raw`` or the
    tokenizer has none. The tokenizer adds ``<|bos|>`` itself, so a template's leading
    bos token is left out (it would be there twice)."""
    if raw or not getattr(tokenizer, "chat_template", None):
        return prompt
    text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)
    bos = tokenizer.bos_token
    if bos and text.startswith(bos) and _adds_bos(tokenizer):
        text = text[len(bos):]
    return text


def _adds_bos(tokenizer) -> bool:
    """Whether encoding a text puts the bos token in front by itself."""
    ids = tokenizer("x")["input_ids"]
    return bool(ids) and ids[0] == tokenizer.bos_token_id


def generate(path: Path, prompt: str, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
             device: str = "cpu", raw: bool = False) -> Generation:
    """Greedy answer of the model in ``path`` to ``prompt``.

    Args:
        device: ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto`` (the best one here).

    Raises:
        ValueError: the directory does not load, has no tokenizer, the device is not
            available, or ``max_new_tokens`` is below 1.
    """
    if max_new_tokens < 1:
        raise ValueError("--max-new-tokens must be at least 1")
    from runtime.device import DeviceError, resolve_device
    from runtime.eval.generation import greedy_generate
    from runtime.phases.toolkit.inputs import load_model, load_tokenizer

    try:
        resolved = resolve_device(device)
    except DeviceError:
        raise ValueError(f"--device {device}: not available on this machine (use cpu or "
                         "auto)") from None
    tokenizer = load_tokenizer(path)
    model = load_model(path, str(resolved))
    text = format_prompt(tokenizer, prompt, raw)
    done = greedy_generate(model, tokenizer, [text], max_new_tokens=max_new_tokens,
                           batch_size=1)[0]
    return Generation(text, done.prediction, done.transcript, done.tool_calls)
