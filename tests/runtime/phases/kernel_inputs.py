"""Input models and a phase context for kernel tests: a smoke-sized Cognate model and a
small random Llama, each saved with the suite's tokenizer (the ``dir:`` case)."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import torch

from forgelang.kinds.cognate import CognateParams
from runtime.kernels import InputModel, PhaseContext


@functools.lru_cache(maxsize=1)
def suite_tokenizer():
    """The suite tokenizer of the smoke architecture's vocabulary."""
    from runtime.data import build_tokenizer

    return build_tokenizer(CognateParams(architecture="smoke").architecture.vocab_size, 0)


def cognate_input(root: Path) -> InputModel:
    """A seeded smoke Cognate model saved in ``root``."""
    from runtime.nn import TrmTitansMagForCausalLM
    from runtime.phases.cognate import model_config

    torch.manual_seed(0)
    TrmTitansMagForCausalLM(model_config(CognateParams(architecture="smoke"))).save_pretrained(root)
    suite_tokenizer().save_pretrained(root)
    return InputModel(path=root, role="champion", model_id=1)


def llama_input(root: Path) -> InputModel:
    """A seeded ~30k-parameter random LlamaForCausalLM saved in ``root`` (no registry id)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(suite_tokenizer()), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=128, pad_token_id=0, bos_token_id=1,
                         eos_token_id=2)
    LlamaForCausalLM(config).save_pretrained(root)
    suite_tokenizer().save_pretrained(root)
    return InputModel(path=root, role="external")


INPUTS = {"cognate": cognate_input, "llama": llama_input}


def phase_context(root: Path, kind: str, stop=None, progress=lambda f, m: None,
                  metrics: list | None = None) -> PhaseContext:
    """A context for ``kind`` in ``root`` (checkpoints in ``root/ckpt``, seed 5); metric
    names go to ``metrics`` when given."""
    ckpt = root / "ckpt"
    ckpt.mkdir(parents=True, exist_ok=True)
    sink = (lambda n, v, s, m: metrics.append(n)) if metrics is not None else (lambda *a: None)
    return PhaseContext(run_id="r", phase=kind, kind=kind, device="cpu", seed=5, workspace=root,
                        run_dir=root, checkpoint_dir=ckpt, work_dir=root, metric_sink=sink,
                        progress_sink=progress, stop_event=stop or threading.Event())
