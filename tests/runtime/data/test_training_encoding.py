"""Training encoding: prompt masked, answer learned, tool results masked, no silent cuts."""

import pytest

from runtime.data import Example, build_tokenizer, encode_for_training, format_example, make_split
from runtime.data.encoding import IGNORE_INDEX


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer(128, seed=0)


def test_format_puts_sep_after_prompt_and_eos_after_answer():
    assert format_example(Example("2+2=", "4", "arithmetic")) == ("2+2=<|sep|>", "4<|eos|>")
    tool = make_split(["tool_use"], 1, seed=0)[0]
    _, target = format_example(tool)
    call = tool.meta["tool_call"]
    assert target == (f"<|tool|>{call}<|/tool|><|result|>{tool.answer}<|/result|>"
                      f"{tool.answer}<|eos|>")


def test_labels_are_the_target_and_the_prompt_is_masked(tokenizer):
    examples = make_split(["arithmetic", "recall", "copy"], 30, seed=0, levels=[1, 2, 3])
    input_ids, labels = encode_for_training(examples, tokenizer, seq_len=64)
    assert input_ids.shape == labels.shape == (30, 64)
    for row, (ids, lab) in enumerate(zip(input_ids.tolist(), labels.tolist(), strict=True)):
        learned = [t for t in lab if t != IGNORE_INDEX]
        assert tokenizer.decode(learned) == format_example(examples[row])[1]
        prompt_len = len(tokenizer(format_example(examples[row])[0])["input_ids"])
        assert all(t == IGNORE_INDEX for t in lab[:prompt_len])
        assert [t for t, m in zip(ids, lab, strict=True) if m != IGNORE_INDEX] == learned


def test_inserted_tool_results_are_not_learned(tokenizer):
    example = make_split(["tool_use"], 1, seed=0)[0]
    _, labels = encode_for_training([example], tokenizer, seq_len=128)
    learned = tokenizer.decode([t for t in labels[0].tolist() if t != IGNORE_INDEX])
    assert learned == f"<|tool|>{example.meta['tool_call']}<|/tool|>{example.answer}<|eos|>"


def test_too_long_examples_are_an_error_not_a_silent_cut(tokenizer):
    examples = make_split(["word_problems"], 5, seed=0, levels=[10])
    with pytest.raises(ValueError, match="longer than seq_len=16"):
        encode_for_training(examples, tokenizer, seq_len=16)
