"""CPU greedy decode speed of a stored ternary model against its fp32 model, in one run.

For each model size, builds a randomly initialised model here (no download), stores it fp32
(``save_pretrained``) and ternary (``save_ternary``, 8-bit activations, ``base3``), loads both
back from disk with ``AutoModelForCausalLM.from_pretrained`` and times greedy ``generate``
of ``--new-tokens`` tokens after a ``--prompt-tokens`` prompt, the variants interleaved
round by round so that load on a shared machine falls on all of them alike. Variants:

- ``fp32``: the float model;
- ``ternary/auto``: ``TernaryLinear``'s default: int8 on large matrices, dense on small;
- ``ternary/int8``: every layer on the int8 kernel (int8 activations x int8 codes,
  ``runtime.formats.ternary_int8``);
- ``ternary/dense``: the dequantised reference (a cached float32 ``gamma * codes``).

Sizes: ``tiny`` (the Cognate ``tiny`` preset, about 1M parameters) and ``llama30m`` (a
Llama-style ``LlamaForCausalLM`` of about 29M parameters). Prints tokens/s (median of
``--rounds``) and the ratio to fp32, and each directory's bytes on disk.

``--clock wall`` (default) times wall-clock seconds: the tokens/s a user sees. On a machine
shared with other jobs, ``--clock cpu`` times this process's CPU seconds instead
(``time.process_time``; with ``--threads 1`` a decode uses one core), which leaves out the
time the process waited for a core; it still shares caches and memory bandwidth.

    python benchmarks/bitnet_speed.py --threads 1 --rounds 3 --new-tokens 32
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("fp32", "ternary/auto", "ternary/int8", "ternary/dense")


def build(size: str):
    """A randomly initialised float model of ``size`` (seeded), in eval mode."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from runtime.nn import TrmTitansMagForCausalLM, preset_config

    torch.manual_seed(0)
    if size == "tiny":
        return TrmTitansMagForCausalLM(preset_config("tiny")).eval()
    config = LlamaConfig(vocab_size=8192, hidden_size=512, intermediate_size=1536,
                         num_hidden_layers=6, num_attention_heads=8, num_key_value_heads=8,
                         max_position_embeddings=512, pad_token_id=0, bos_token_id=1,
                         eos_token_id=2)
    return LlamaForCausalLM(config).eval()


def stored_pair(size: str, root: Path) -> tuple[Path, Path, int]:
    """The fp32 and the ternary directory of ``size``, and its parameter count."""
    from runtime.formats.ternary import save_ternary

    model = build(size)
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(root / f"{size}-fp32")
    save_ternary(model, None, root / f"{size}-ternary", activation_bits=8)
    return root / f"{size}-fp32", root / f"{size}-ternary", params


def decode_seconds(model, prompt, new_tokens: int, clock=time.perf_counter) -> float:
    """Seconds (of ``clock``) of one greedy ``generate`` of exactly ``new_tokens`` tokens."""
    import torch

    start = clock()
    with torch.no_grad():
        out = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt),
                             max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                             do_sample=False, pad_token_id=0)
    seconds = clock() - start
    assert out.shape[1] == prompt.shape[1] + new_tokens
    return seconds


def measure(size: str, root: Path, args) -> dict[str, float]:
    """Median tokens/s of each variant on ``size``."""
    import torch
    from transformers import AutoModelForCausalLM

    from runtime.formats.ternary import use_kernel

    fp32_dir, ternary_dir, params = stored_pair(size, root)
    models = {"fp32": AutoModelForCausalLM.from_pretrained(fp32_dir).eval()}
    for variant in VARIANTS[1:]:
        models[variant] = AutoModelForCausalLM.from_pretrained(ternary_dir).eval()
        use_kernel(models[variant], variant.split("/")[1])
    vocab = models["fp32"].config.vocab_size
    prompt = torch.randint(3, vocab, (1, args.prompt_tokens),
                           generator=torch.Generator().manual_seed(1))
    for model in models.values():  # warm-up: caches, prepacked weights
        decode_seconds(model, prompt, 2)
    seconds = {v: [] for v in VARIANTS}
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    for _ in range(args.rounds):
        for variant in VARIANTS:
            seconds[variant].append(decode_seconds(models[variant], prompt, args.new_tokens,
                                                   clock))
    speed = {v: args.new_tokens / statistics.median(s) for v, s in seconds.items()}
    print(f"\n{size}: {params / 1e6:.1f}M parameters; fp32 dir {_bytes(fp32_dir):,} B, "
          f"ternary dir {_bytes(ternary_dir):,} B")
    for variant in VARIANTS:
        print(f"  {variant:14s} {speed[variant]:8.1f} tokens/s   "
              f"{speed[variant] / speed['fp32']:.2f}x fp32")
    return speed


def _bytes(path: Path) -> int:
    from runtime.artifacts import directory_bytes

    return directory_bytes(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "llama30m"],
                        choices=["tiny", "llama30m"])
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--prompt-tokens", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall-clock or this process's CPU seconds (a shared machine)")
    args = parser.parse_args()

    import torch

    import runtime  # noqa: F401  (registers forge_ternary and the Cognate model)

    torch.set_num_threads(args.threads)
    print(f"greedy decode, {args.prompt_tokens}-token prompt, {args.new_tokens} new tokens, "
          f"{args.threads} thread(s), median of {args.rounds} rounds, {args.clock} clock")
    with tempfile.TemporaryDirectory() as scratch:
        for size in args.sizes:
            measure(size, Path(scratch), args)


if __name__ == "__main__":
    main()
