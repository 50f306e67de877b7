"""The prompt/target text format shared by training and evaluation.

    prompt_text = prompt + "<|sep|>"
    target_text = [tool call + inserted result] + answer + "<|eos|>"

The tokenizer prepends ``<|bos|>`` itself. Evaluation feeds ``prompt_text`` and
generates; training learns ``target_text`` (see ``runtime.data.encoding``).

``CHAT_TEMPLATE`` is the same format as a transformers chat template, saved with the
suite tokenizer, so ``tokenizer.apply_chat_template`` (and text-generation pipelines given
chat messages) build exactly the input the model was trained on: a system message is
prepended to the prompt with a space (as prompt baking does), a user turn ends with
``<|sep|>`` and an assistant turn with ``<|eos|>``.
"""

from __future__ import annotations

from runtime.data.calculator import tool_result_text
from runtime.data.example import Example
from runtime.data.tokens import EOS, SEP, TOOL_CLOSE, TOOL_OPEN

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }} "
    "{% elif message['role'] == 'user' %}{{ message['content'] }}" + SEP +
    "{% elif message['role'] == 'assistant' %}{{ message['content'] }}" + EOS +
    "{% endif %}{% endfor %}")


def tool_trace(example: Example) -> str:
    """The tool call and inserted result that precede the answer ('' when none)."""
    call = example.meta.get("tool_call")
    if not call:
        return ""
    result = example.meta.get("tool_result", example.answer)
    return f"{TOOL_OPEN}{call}{TOOL_CLOSE}{tool_result_text(result)}"


def format_example(example: Example) -> tuple[str, str]:
    """``(prompt_text, target_text)`` for one example.

    Args:
        example: Any example; a ``meta["tool_call"]`` such as ``"calc(3*4)"`` puts a
            tool call and its result (``meta["tool_result"]``) before the answer.

    Returns:
        The text the model is given and the text it must produce.
    """
    return f"{example.prompt}{SEP}", f"{tool_trace(example)}{example.answer}{EOS}"


def training_text(example: Example) -> str:
    """Prompt and target joined: the full text of one example (e.g. for perplexity)."""
    prompt_text, target_text = format_example(example)
    return prompt_text + target_text
