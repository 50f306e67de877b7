"""Tiny models and a small bake for the baking tests.

The models are initialised with a large std (0.2, our choice) so a prompt moves their
next-token distributions visibly: at the presets' 0.02 every distribution is near uniform
and the KL a prompt causes is too small to train against in a few steps.
"""

from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from forgelang.kinds.common import BakeConfig
from runtime.nn import TrmTitansMagConfig, TrmTitansMagForCausalLM

PROMPT = "Talk like a pirate."
QUERIES = [f"Q: What is {i} plus {i + 2}?<|sep|>" for i in range(6)]
HELDOUT = [f"Q: What comes after {i}?<|sep|>" for i in range(3)]


def cognate(seed: int = 0) -> TrmTitansMagForCausalLM:
    """A ~30k-parameter Cognate model whose memory writes (chunk 8 < sequence length)."""
    torch.manual_seed(seed)
    config = TrmTitansMagConfig(
        vocab_size=108, d_model=32, n_layers=2, n_heads=2, d_ff=64, window=16, n_persistent=2,
        memory_hidden=16, memory_chunk=8, n_latent_steps=1, n_cycles=1, supervision_steps=1,
        max_seq_len=128, initializer_range=0.2)
    return TrmTitansMagForCausalLM(config)


def llama(seed: int = 0) -> LlamaForCausalLM:
    """A ~25k-parameter randomly initialised Llama."""
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=108, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=128, initializer_range=0.2,
                         pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return LlamaForCausalLM(config)


MODELS = {"cognate": cognate, "llama": llama}


def small_bake(**overrides) -> BakeConfig:
    """A bake that runs in about a second on one thread."""
    fields = dict(steps=12, trajectories=8, trajectory_tokens=6, batch_size=4, lora_rank=4,
                  strength=1.0)
    return BakeConfig(**{**fields, **overrides})


def bake(model, tokenizer, prompt: str = PROMPT, seed: int = 0, **overrides):
    """``bake_prompt`` with the test queries and :func:`small_bake`."""
    from runtime.baking import bake_prompt

    return bake_prompt(model, tokenizer, prompt, QUERIES, small_bake(**overrides), device="cpu",
                       seed=seed, heldout_queries=HELDOUT, lr=1e-2)


def weights(model) -> dict[str, torch.Tensor]:
    """A detached copy of every tensor of the state dict."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
