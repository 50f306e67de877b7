"""The locally built tokenizer: round trips, single-id special tokens, determinism."""

import subprocess
import sys

import pytest
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from runtime.data import TASKS, build_tokenizer, make_split, training_text
from runtime.data.tokens import SPECIAL_TOKENS


@pytest.fixture(scope="module", params=[128, 512])
def tokenizer(request):
    return build_tokenizer(request.param, seed=0)


@pytest.fixture(scope="module")
def suite_texts():
    return [training_text(e) for e in make_split(TASKS.names(), 400, seed=1, split="heldout")]


def test_special_tokens_are_single_fixed_ids(tokenizer):
    for index, token in enumerate(SPECIAL_TOKENS):
        assert tokenizer(token, add_special_tokens=False)["input_ids"] == [index]
    assert (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id) == (0, 1, 2)
    assert tokenizer.unk_token_id == 3
    assert isinstance(tokenizer, PreTrainedTokenizerFast)


def test_round_trip_on_heldout_suite_text(tokenizer, suite_texts):
    for text in suite_texts:
        ids = tokenizer(text)["input_ids"]
        assert ids[0] == tokenizer.bos_token_id
        assert tokenizer.decode(ids[1:]) == text
        assert tokenizer.unk_token_id not in ids


def test_digits_are_single_tokens(tokenizer):
    ids = tokenizer("12345", add_special_tokens=False)["input_ids"]
    assert len(ids) == 5


def test_vocab_size_is_respected():
    assert len(build_tokenizer(128, seed=0)) == 128
    assert len(build_tokenizer(300, seed=0)) == 300
    with pytest.raises(ValueError, match="vocab_size 64"):
        build_tokenizer(64, seed=0)
    with pytest.raises(ValueError, match="byte"):
        build_tokenizer(200, seed=0, alphabet="byte")


def test_byte_level_round_trips_any_text():
    tokenizer = build_tokenizer(300, seed=0)
    text = "naïve café — 東京 ✓\ttab"
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text


def test_save_and_load_round_trip(tokenizer, tmp_path, suite_texts):
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded.get_vocab() == tokenizer.get_vocab()
    assert loaded.pad_token == "<|pad|>" and loaded.eos_token == "<|eos|>"
    for text in suite_texts[:50]:
        assert loaded(text)["input_ids"] == tokenizer(text)["input_ids"]


def _vocabs_in_fresh_process(*seeds: int) -> subprocess.Popen:
    """A new process printing the vocabulary of ``build_tokenizer(400, seed)`` per seed,
    one JSON line each."""
    code = ("import json, sys; from runtime.data import build_tokenizer\n"
            "for seed in sys.argv[1:]:\n"
            "    print(json.dumps(sorted(build_tokenizer(400, int(seed)).get_vocab().items())))")
    return subprocess.Popen([sys.executable, "-c", code, *map(str, seeds)],
                            stdout=subprocess.PIPE, text=True)


def test_same_seed_same_vocab_across_processes():
    # Separate processes: Rust hash maps are seeded per process, so this catches order drift.
    # Both run at once (each imports transformers, seconds).
    procs = [_vocabs_in_fresh_process(0, 1), _vocabs_in_fresh_process(0)]
    (first, other), (again,) = (p.communicate(timeout=600)[0].splitlines() for p in procs)
    assert all(p.returncode == 0 for p in procs)
    assert first == again
    assert first != other


def test_smoke_vocabulary_spells_memory_strings_the_same_in_prompt_and_answer():
    """The smoke preset's vocabulary (the bare character alphabet) encodes a copied string
    token for token as its answer; byte-level BPE does not (``Gm s x`` vs ``m s x``), which
    kept the smallest model from learning copy (docs/cognate.md)."""
    from forgelang.kinds.cognate_arch import arch_from

    char = build_tokenizer(arch_from("smoke").vocab_size, 7)
    byte = build_tokenizer(384, 7)

    def spelled(tok, text):
        return tok.convert_ids_to_tokens(tok(text, add_special_tokens=False)["input_ids"])

    for text in ("copy: msx", "reverse: zld"):
        string = text.split()[-1]
        assert spelled(char, text)[-len(string):] == spelled(char, string) == list(string)
    assert spelled(byte, "copy: msx")[-3:] != spelled(byte, "msx")
