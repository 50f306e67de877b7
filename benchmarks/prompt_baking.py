"""How much of a persona prompt's effect prompt baking puts into the weights, measured.

A randomly initialised model has no prompt effect, so this first trains a small Cognate
model (a smoke-sized config, AdamW) on the suite's ``persona`` family: the chosen
persona's examples ("Talk like a pirate. Q: What color is snow?" -> "Arr, white!"), each
together with its plain form ("Q: What color is snow?" -> "white"). Or it loads a trained model with
``--model DIR`` (a ``save_pretrained`` directory with its tokenizer).

Then it bakes the persona's instruction (``--persona``, default pirate) with
``runtime.baking.bake_prompt`` on the plain training questions, and measures on held-out
questions (never trained on, never baked on) with greedy answers:

- ``style``: the persona's frame around the answer (``"Arr, " ... "!"``), whatever the content;
- ``exact``: the suite's own persona scorer (exact match of the styled answer),

for the base model without the prompt, with it, and the baked model without it, and prints
the fraction of the effect recovered = (baked - base) / (prompted - base).

    python benchmarks/prompt_baking.py [--seed 0] [--train-steps 300] [--bake-steps 40]
                                       [--persona pirate] [--model DIR] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MODEL = dict(d_model=48, n_layers=2, n_heads=4, d_ff=128, window=64, n_persistent=4,
             memory_hidden=32, memory_chunk=64, n_latent_steps=1, n_cycles=1,
             supervision_steps=1, max_seq_len=96)  # smoke-sized; one memory chunk per example


def plain(example):
    """The example without its persona instruction, answered plainly."""
    from runtime.data import Example

    question = example.prompt.split(" Q: ", 1)[1]
    return Example(f"Q: {question}", example.meta["plain_answer"], "persona", example.level)


def unprompted(example):
    """The example without its instruction, still expecting the styled answer."""
    from runtime.data import Example

    question = example.prompt.split(" Q: ", 1)[1]
    return Example(f"Q: {question}", example.answer, "persona", example.level, example.meta)


def train_base(tokenizer, persona: str, steps: int, seed: int):
    """A Cognate model trained on one persona's examples and their plain forms."""
    import torch

    from runtime.data import make_split
    from runtime.nn import TrmTitansMagConfig, TrmTitansMagForCausalLM
    from runtime.phases.toolkit.batches import BatchStream, encode_pool
    from runtime.training.loop import train_steps

    examples = make_split(["persona"], 2000, seed, "train", levels=[1])
    pool = [e for ex in examples if ex.meta["persona"] == persona for e in (ex, plain(ex))]
    ids, labels = encode_pool(pool, tokenizer, MODEL["max_seq_len"])
    torch.manual_seed(seed)
    model = TrmTitansMagForCausalLM(TrmTitansMagConfig(vocab_size=len(tokenizer), **MODEL))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    report = train_steps(model, optimizer, BatchStream(ids, labels, 16, seed), steps,
                         warmup_steps=20, min_lr_ratio=0.1)
    print(f"base model: {sum(p.numel() for p in model.parameters())} parameters, {steps} steps, "
          f"final training loss {report.losses[-1]:.3f}")
    return model.eval()


def load_base(path: str):
    """A trained model and its tokenizer from a ``save_pretrained`` directory."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import runtime.nn  # noqa: F401  (registers the Cognate model with the Auto classes)

    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def bake_queries(seed: int) -> list[str]:
    """The plain training questions the bake samples trajectories for."""
    from runtime.data import format_example, make_split

    train = make_split(["persona"], 400, seed + 1, "train", levels=[1])
    return sorted({format_example(plain(ex))[0] for ex in train})


def bake(model, tokenizer, prompt: str, args, queries, heldout):
    """Bake ``prompt`` into ``model`` on the plain training ``queries``."""
    from forgelang.kinds.common import BakeConfig
    from runtime.baking import bake_prompt
    from runtime.data import format_example

    held = sorted({format_example(ex)[0] for ex in heldout})[:32]
    config = BakeConfig(steps=args.bake_steps, trajectories=128, trajectory_tokens=16,
                        batch_size=16, lora_rank=8, strength=args.strength)
    result = bake_prompt(model, tokenizer, prompt, queries, config, device="cpu",
                         seed=args.seed, heldout_queries=held, lr=args.lr)
    print(f"bake: {len(queries)} training queries, {config.trajectories} trajectories x "
          f"{config.trajectory_tokens} tokens, {result.steps} steps, rank {config.lora_rank}, "
          f"lr {args.lr}, strength {args.strength}: held-out KL {result.kl_before:.4f} -> {result.kl_after:.4f}")
    return result.model


def main(argv: list[str] | None = None) -> None:
    """Train (or load), bake, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-steps", type=int, default=300)
    parser.add_argument("--bake-steps", type=int, default=40)
    parser.add_argument("--lr", type=float, default=3e-3, help="adapter learning rate")
    parser.add_argument("--strength", type=float, default=1.0, help="fraction of the delta merged")
    parser.add_argument("--persona", default="pirate")
    parser.add_argument("--model", help="a trained model directory instead of training one")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: a shared 2-core machine oversubscribes at 2)")
    parser.add_argument("--examples", type=int, default=64, help="held-out examples measured")
    args = parser.parse_args(argv)

    import torch

    from runtime.baking.effect import prompt_effect, style_score
    from runtime.data import TASKS, build_tokenizer, format_example, make_split
    from runtime.data.families.persona import PERSONAS

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    if args.model:
        base, tokenizer = load_base(args.model)
    else:
        tokenizer = build_tokenizer(108, args.seed)
        base = train_base(tokenizer, args.persona, args.train_steps, args.seed)
    prompt, rewrite = PERSONAS[args.persona]
    queries = bake_queries(args.seed)
    drawn = make_split(["persona"], 1600, args.seed, "heldout", levels=[1])
    heldout = [ex for ex in map(unprompted, drawn) if ex.meta["persona"] == args.persona
               and format_example(ex)[0] not in queries][:args.examples]
    baked = bake(copy.deepcopy(base), tokenizer, prompt, args, queries, heldout)
    scorers = {"style": style_score(rewrite), "exact": TASKS.get("persona").score}
    print(f"persona {args.persona!r}, prompt {prompt!r}, {len(heldout)} held-out questions, "
          f"seed {args.seed}")
    for name, score in scorers.items():
        effect = prompt_effect(base, baked, tokenizer, prompt, heldout, score, device="cpu")
        recovered = "n/a" if effect.recovered is None else f"{effect.recovered:.2f}"
        print(f"{name:6s} base {effect.base:.3f}  prompted {effect.prompted:.3f}  "
              f"baked {effect.baked:.3f}  recovered {recovered}")
    print(f"wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
