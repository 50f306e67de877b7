"""The compression phase on one model: a table of what each stage stored and kept.

Runs the phase kernel (as `forge apply` would; the tiny recipe's compression settings
unless ``--set`` changes them) on a model directory, or on a seeded random model it
makes (``--make tiny`` for the tiny Cognate architecture, ``--make llama30m`` for a
~30M-parameter Llama-style model), optionally stored first in BitNet's packed ternary
form (``--ternary``, as the bitnet phase's output is), and prints per stage: bits per
weight, bytes on disk, reconstruction error, retention and seconds, then the phase's
ratios against the input and its fp32 form, and the phase's seconds.

    python benchmarks/compression_stages.py --make tiny --ternary
    python benchmarks/compression_stages.py --model .forge/artifacts/<bitnet output>

A random model scores 0 on the suite, so its retention is undefined: give a trained
model (``--model``) for retention figures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

TINY = {"stages": [{"type": "seedlm", "seed_bits": 10},
                   {"type": "vptq", "codebook": 256, "calibration_samples": 32}],
        "eval": {"examples": 24, "max_new_tokens": 12, "batch_size": 24}}
LLAMA30M = dict(hidden_size=512, intermediate_size=1376, num_hidden_layers=8,
                num_attention_heads=8, num_key_value_heads=8, max_position_embeddings=256)


def make_model(kind: str, root: Path, ternary: bool) -> Path:
    """A seeded random model of ``kind`` saved in ``root`` with the suite tokenizer."""
    import torch

    from forgelang.kinds.cognate import CognateParams
    from runtime.data import build_tokenizer

    torch.manual_seed(0)
    tokenizer = build_tokenizer(CognateParams(architecture="tiny").architecture.vocab_size, 0)
    if kind == "tiny":
        from runtime.nn import TrmTitansMagForCausalLM
        from runtime.phases.cognate import model_config

        model = TrmTitansMagForCausalLM(model_config(CognateParams(architecture="tiny")))
    else:
        from transformers import LlamaConfig, LlamaForCausalLM

        model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), pad_token_id=0,
                                             bos_token_id=1, eos_token_id=2, **LLAMA30M))
    if ternary:
        from runtime.formats.ternary import save_ternary

        return save_ternary(model, tokenizer, root / "input")
    model.save_pretrained(root / "input")
    tokenizer.save_pretrained(root / "input")
    return root / "input"


def run_once(model: Path, params: dict, seed: int) -> tuple[dict, float]:
    """One run of the kernel in a scratch directory: its phase metrics and seconds."""
    from forgelang.kinds.compression import CompressionParams
    from runtime.kernels import InputModel, PhaseContext
    from runtime.phases.compression import CompressionKernel

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "ckpt").mkdir()
        ctx = PhaseContext(run_id="bench", phase="compression", kind="compression",
                           device="cpu", seed=seed, workspace=root, run_dir=root,
                           checkpoint_dir=root / "ckpt", work_dir=root,
                           stop_event=threading.Event())
        start = time.perf_counter()
        result = CompressionKernel().run(ctx, CompressionParams.model_validate(params),
                                         [InputModel(path=model, role="input")])
        return result.metrics, time.perf_counter() - start


def print_table(metrics: dict, params: dict, seconds: float) -> None:
    """Stage rows, then the phase's ratios."""
    types = [s["type"] if isinstance(s, dict) else s for s in params["stages"]]
    keys = [t if types.count(t) == 1 else f"{t}{i}" for i, t in enumerate(types)]
    print(f"{'stage':<10}{'bits/w':>8}{'bytes':>12}{'rec.err':>9}{'retention':>10}{'s':>8}")
    for key in keys:
        if metrics.get(f"stage.{key}.skipped"):
            print(f"{key:<10}  skipped (would not make the layers smaller)")
            continue
        row = [metrics.get(f"bits_per_weight.{key}"), metrics.get(f"stage.{key}.disk_bytes"),
               metrics.get(f"reconstruction_error.{key}"), metrics.get(f"retention.{key}"),
               metrics.get(f"stage.{key}.seconds")]
        cells = ["-" if v is None else f"{v:.3f}" if abs(v) < 100 else f"{v:,.0f}" for v in row]
        print(f"{key:<10}{cells[0]:>8}{cells[1]:>12}{cells[2]:>9}{cells[3]:>10}{cells[4]:>8}")
    print(f"input bytes {metrics['input_disk_bytes']:,.0f}; ratio vs input "
          f"{metrics['compression_ratio']:.2f}x, vs its fp32 form "
          f"{metrics['compression_ratio.fp32']:.2f}x; bits/weight {metrics['bits_per_weight']:.3f}"
          f"; accuracy {metrics['input_accuracy']:.3f} -> {metrics['compressed.accuracy']:.3f}"
          f"; phase {seconds:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a model directory")
    parser.add_argument("--make", choices=["tiny", "llama30m"], default="tiny")
    parser.add_argument("--ternary", action="store_true", help="store it ternary first")
    parser.add_argument("--set", default="{}", help="JSON overrides of the compression params")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    params = {**TINY, **json.loads(args.set)}
    with tempfile.TemporaryDirectory() as scratch:
        model = args.model or make_model(args.make, Path(scratch), args.ternary)
        metrics, seconds = run_once(model, params, args.seed)
    print_table(metrics, params, seconds)


if __name__ == "__main__":
    main()
