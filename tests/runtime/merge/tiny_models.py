"""Tiny models for merge tests, built from configs (never downloaded) and saved to tmp dirs.

"Fine-tunes" share one seeded initialisation plus small seeded perturbations, like real
fine-tunes of one base (merging independently initialised networks is meaningless).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GPT2Config, LlamaConfig

VOCAB = 100


def llama_config(layers: int = 3, hidden_size: int = 32) -> LlamaConfig:
    """A ~30k-parameter Llama."""
    return LlamaConfig(vocab_size=VOCAB, hidden_size=hidden_size, intermediate_size=64,
                       num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                       max_position_embeddings=64, tie_word_embeddings=False,
                       bos_token_id=1, eos_token_id=2, pad_token_id=0)


def gpt2_config(layers: int = 3) -> GPT2Config:
    """A ~45k-parameter GPT-2."""
    return GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=layers, n_head=4, n_positions=64,
                      bos_token_id=1, eos_token_id=2, pad_token_id=0)


def build(cls, config, seed: int):
    """A model of ``cls`` with weights seeded by ``seed``, in eval mode."""
    torch.manual_seed(seed)
    return cls(config).eval()


def fine_tunes(base, n: int, scale: float = 0.02, seed: int = 100):
    """``n`` copies of ``base`` with independent seeded Gaussian perturbations."""
    out = []
    gen = torch.Generator().manual_seed(seed)
    for _ in range(n):
        model = type(base)(base.config).eval()
        state = {k: v + scale * torch.randn(v.shape, generator=gen) if v.is_floating_point()
                 else v for k, v in base.state_dict().items()}
        model.load_state_dict(state)
        out.append(model)
    return out


def save_tokenizer(directory: Path) -> None:
    """A small word-level tokenizer.json, to check it is copied to merged directories."""
    vocab = {f"w{i}": i for i in range(VOCAB)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="w0"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "w0"}))


def save_all(models_, root: Path, prefix: str) -> list[Path]:
    """``save_pretrained`` each model (safetensors) with a tokenizer; returns the dirs."""
    dirs = []
    for i, model in enumerate(models_):
        path = root / f"{prefix}{i}"
        model.save_pretrained(path)
        save_tokenizer(path)
        dirs.append(path)
    return dirs


def state_equal(a, b) -> bool:
    """Bit-exact equality of two state dicts."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def logits(model, ids: torch.Tensor) -> torch.Tensor:
    """Logits (B, T, V) of ``ids`` under ``model``."""
    with torch.no_grad():
        return model(input_ids=ids).logits
