"""A tokenizer built here, from the task suite's train split; never downloaded.

Two alphabets (our choice, picked by ``vocab_size`` unless ``alphabet`` is given):

- ``"byte"``: byte-level BPE (GPT-2 style). Any text round-trips. Needs
  ``vocab_size >= 256 + 11`` (bytes + special tokens).
- ``"char"``: BPE over the printable ASCII characters. Fits vocabularies from 108
  upwards; characters outside ASCII become ``<|unk|>``.

Both split digits into single tokens, so numbers are spelled digit by digit (tiny
models learn arithmetic far more easily than with merged multi-digit tokens).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from runtime.data.families import TASKS
from runtime.data.formatting import CHAT_TEMPLATE, format_example
from runtime.data.splits import make_split
from runtime.data.tokens import BOS, EOS, PAD, SPECIAL_TOKENS, UNK

CHAR_ALPHABET = tuple(c for c in string.printable if c not in "\x0b\x0c\r")  # 97 characters
BYTE_ALPHABET_SIZE = 256
MIN_VOCAB = {"char": len(CHAR_ALPHABET) + len(SPECIAL_TOKENS),
             "byte": BYTE_ALPHABET_SIZE + len(SPECIAL_TOKENS)}
MAX_VOCAB = 65536
CORPUS_EXAMPLES = 4000  # train-split examples the merges are learned from
_SPECIAL_RE = re.compile("|".join(re.escape(t) for t in SPECIAL_TOKENS))


def corpus(seed: int, n: int = CORPUS_EXAMPLES) -> Iterator[str]:
    """Plain text pieces of the suite's train split (special tokens cut out)."""
    for example in make_split(TASKS.names(), n, seed, "train"):
        for text in format_example(example):
            yield from (piece for piece in _SPECIAL_RE.split(text) if piece)


def _backend(alphabet: str) -> tuple[Tokenizer, list[str]]:
    """An untrained BPE with the alphabet's pre-tokenizer and decoder, plus its initial symbols."""
    digits = pre_tokenizers.Digits(individual_digits=True)
    tokenizer = Tokenizer(models.BPE(unk_token=UNK, fuse_unk=False))
    if alphabet == "byte":
        byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([digits, byte_level])
        tokenizer.decoder = decoders.ByteLevel()
        return tokenizer, pre_tokenizers.ByteLevel.alphabet()
    whitespace = pre_tokenizers.Split(Regex(r"\s"), behavior="isolated")
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([digits, whitespace])
    tokenizer.decoder = decoders.Fuse()
    return tokenizer, list(CHAR_ALPHABET)


def choose_alphabet(vocab_size: int, alphabet: str = "auto") -> str:
    """``"byte"`` when the vocabulary has room for all bytes, else ``"char"``."""
    if alphabet == "auto":
        alphabet = "byte" if vocab_size >= MIN_VOCAB["byte"] else "char"
    if alphabet not in MIN_VOCAB:
        raise ValueError(f"alphabet must be 'auto', 'byte' or 'char', got {alphabet!r}")
    if not MIN_VOCAB[alphabet] <= vocab_size <= MAX_VOCAB:
        raise ValueError(f"vocab_size {vocab_size} is outside {MIN_VOCAB[alphabet]}-{MAX_VOCAB} "
                         f"for the {alphabet!r} alphabet")
    return alphabet


def build_tokenizer(vocab_size: int, seed: int, *, alphabet: str = "auto",
                    corpus_examples: int = CORPUS_EXAMPLES) -> PreTrainedTokenizerFast:
    """Train a BPE tokenizer on the suite's train split.

    Special tokens have fixed ids (``<|pad|>`` 0, ``<|bos|>`` 1, ``<|eos|>`` 2,
    ``<|unk|>`` 3, then thoughts, tool, result and ``<|sep|>``); encoding prepends
    ``<|bos|>``. Same ``vocab_size``, ``seed`` and alphabet give the same vocabulary.

    Args:
        vocab_size: Target size including special tokens (the result may be smaller
            when the corpus offers fewer merges).
        seed: Seed of the train split the merges are learned from.
        alphabet: ``"byte"``, ``"char"`` or ``"auto"`` (byte when it fits).
        corpus_examples: How many train examples to learn merges from.

    Returns:
        A ``PreTrainedTokenizerFast`` with pad/bos/eos/unk set; it round-trips through
        ``save_pretrained``/``from_pretrained``.
    """
    alphabet = choose_alphabet(vocab_size, alphabet)
    backend, initial = _backend(alphabet)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=initial, limit_alphabet=len(initial),
                                  show_progress=False)
    backend.train_from_iterator(corpus(seed, corpus_examples), trainer)
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, backend.token_to_id(BOS))])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK,
        additional_special_tokens=list(SPECIAL_TOKENS[4:]), padding_side="right")
    tokenizer.chat_template = CHAT_TEMPLATE  # the task format, for apply_chat_template
    return tokenizer
