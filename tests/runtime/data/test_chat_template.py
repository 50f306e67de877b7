"""The suite tokenizer's chat template builds exactly the task format's input, so the
standard transformers ways of prompting give the model what it was trained on."""

from runtime.data import Example
from runtime.data.formatting import format_example
from tests.runtime.phases.kernel_inputs import suite_tokenizer


def test_user_turn_is_the_task_prompt(tmp_path):
    tokenizer = suite_tokenizer()
    tokenizer.save_pretrained(tmp_path)
    from transformers import AutoTokenizer

    loaded = AutoTokenizer.from_pretrained(tmp_path)
    prompt_text, _ = format_example(Example("12+7=", "19", "arithmetic", 1))
    ids = loaded.apply_chat_template([{"role": "user", "content": "12+7="}],
                                     add_generation_prompt=True, tokenize=True,
                                     return_dict=False)
    assert list(ids) == tokenizer(prompt_text)["input_ids"]


def test_system_and_assistant_turns():
    tokenizer = suite_tokenizer()
    text = tokenizer.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2="},
         {"role": "assistant", "content": "4"}], tokenize=False)
    assert text == "<|bos|>Be brief. 2+2=<|sep|>4<|eos|>"
