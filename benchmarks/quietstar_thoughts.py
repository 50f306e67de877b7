"""Do Quiet-STaR thoughts help a small model, or is it theatre? Measured against controls.

A randomly initialised model has nothing to think with, so this first trains a small
Cognate model (AdamW, ``--base-steps``) on the suite's ``arithmetic`` and
``word_problems`` families (``--levels``, default 1 2): on their answers as the suite
encodes them, or on every token with ``--base-text full`` (the thought objective's mixed
loss covers every token, so a base that never learned the prompt text gains from any
extra path there). Then it trains thoughts with
``runtime.thoughts.objective.QuietStarObjective`` (a fresh mixing head; LM loss + mixed
loss + REINFORCE) for ``--steps`` steps. The optimiser here is plain AdamW at ``--lr``
(constant after a short warm-up), not the phase's MuGrokfast.

At every step count of ``--measure-at`` (default: 0 and ``--steps``; measuring uses its
own generators and leaves the training run as it is; the training pool is the largest
step count times ``--batch-size`` examples, so runs of different lengths see different
batches) it measures on held-out problems
of the same families and levels (never trained on), in the four modes of
``runtime.thoughts.decode`` (a thought before every token; ``none``: no thought;
``random``: random tokens of the thought's length; ``shuffled``: another example's thought):

- ``acc``: exact-match accuracy of greedy answers (``runtime.phases.quietstar.checks``'
  ``mode_accuracy``, as the phase's anti-theatre check);
- ``nll``: teacher-forced NLL (nats) per answer token with one thought before each
  answer token (``runtime.thoughts.answers``), a more sensitive measure;
- ``w``: the mean mixing weight at the answer tokens (``thoughts`` mode).

At step 0 the mixing head is zero, so every mode equals ``none``: that row is the base.

    python benchmarks/quietstar_thoughts.py [--seed 0] [--base-steps 1000] [--steps 200]
        [--lr 3e-4] [--thought-tokens 4] [--per-position 2] [--n-true 2] [--examples 64]
        [--levels 1 2] [--measure-at 0 100 200] [--d-model 48] [--n-layers 2]
        [--base-text answers|full] [--save-base DIR | --model DIR] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FAMILIES = ("arithmetic", "word_problems")
MODES = ("thoughts", "none", "random", "shuffled")
SEQ_LEN = 80  # longest example kept (level-2 word problems are up to ~70 tokens)


def model_config(args) -> dict:
    """A small Cognate config: one memory chunk and one attention window per thought row."""
    return dict(d_model=args.d_model, n_layers=args.n_layers, n_heads=4, d_ff=args.d_model * 8 // 3,
                window=128, n_persistent=4, memory_hidden=32, memory_chunk=128, n_latent_steps=1,
                n_cycles=1, supervision_steps=1, max_seq_len=128)


def stream(tokenizer, n: int, seed: int, levels, batch_size: int, full_text: bool = False):
    """A seeded batch stream of ``n`` training examples of the two families; the labels
    are the answers (the suite's encoding) or, with ``full_text``, every token."""
    from runtime.data.encoding import IGNORE_INDEX
    from runtime.phases.toolkit.batches import BatchStream, encode_pool
    from runtime.phases.toolkit.draws import fitting_examples

    examples = fitting_examples(list(FAMILIES), n, seed, "train", tokenizer, SEQ_LEN, levels)
    input_ids, labels = encode_pool(examples, tokenizer, SEQ_LEN)
    if full_text:
        labels = input_ids.masked_fill(input_ids == tokenizer.pad_token_id, IGNORE_INDEX)
    return BatchStream(input_ids, labels, batch_size, seed)


def train_base(tokenizer, args):
    """A Cognate model trained (AdamW) to answer the two families."""
    import torch

    from runtime.nn import TrmTitansMagConfig, TrmTitansMagForCausalLM
    from runtime.training.loop import train_steps

    torch.manual_seed(args.seed)
    config = TrmTitansMagConfig(vocab_size=len(tokenizer), **model_config(args))
    model = TrmTitansMagForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    full = args.base_text == "full"
    batches = stream(tokenizer, args.base_steps * 16, args.seed, args.levels, 16, full)
    report = train_steps(model, optimizer, batches, args.base_steps, warmup_steps=50,
                         min_lr_ratio=0.1)
    print(f"base model: {sum(p.numel() for p in model.parameters())} parameters, "
          f"{args.base_steps} steps (AdamW 3e-3) on {'the full text' if full else 'the answers'}, "
          f"final training loss {report.losses[-1]:.3f}")
    return model.eval()


def load_base(path: str):
    """A trained model and its tokenizer from a ``save_pretrained`` directory."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import runtime.nn  # noqa: F401  (registers the Cognate model with the Auto classes)

    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def base_model(args):
    """``(model, tokenizer)``: loaded from ``--model``, else trained (and saved to ``--save-base``)."""
    from runtime.data import build_tokenizer

    if args.model:
        model, tokenizer = load_base(args.model)
        print(f"base model: {args.model} ({sum(p.numel() for p in model.parameters())} parameters)")
        return model, tokenizer
    tokenizer = build_tokenizer(108, args.seed)
    model = train_base(tokenizer, args)
    if args.save_base:
        model.save_pretrained(args.save_base, safe_serialization=True)
        tokenizer.save_pretrained(args.save_base)
    return model, tokenizer


def measure(model, head, tokens, tokenizer, examples, args) -> dict[str, float]:
    """``acc.<mode>``, ``nll.<mode>`` and ``w`` on the held-out ``examples``."""
    from runtime.phases.quietstar.checks import mode_accuracy
    from runtime.thoughts.answers import answer_scores

    params = SimpleNamespace(eval=SimpleNamespace(batch_size=16, max_new_tokens=6),
                             temperature=args.temperature)
    out: dict[str, float] = {}
    for mode in MODES:
        out[f"acc.{mode}"] = mode_accuracy(model, head, tokens, tokenizer, examples, mode, params,
                                           args.seed + 1)
        scores = answer_scores(model, head, tokens, tokenizer, examples, mode,
                               temperature=args.temperature, seed=args.seed + 2, batch_size=16,
                               pad_id=tokenizer.pad_token_id)
        out[f"nll.{mode}"] = scores.mean_nll
        if mode == "thoughts":
            out["w"] = scores.mean_weight
    return out


def row(step: int, m: dict[str, float]) -> str:
    """One line of the table."""
    acc = " ".join(f"{m[f'acc.{mode}']:6.3f}" for mode in MODES)
    nll = " ".join(f"{m[f'nll.{mode}']:7.4f}" for mode in MODES)
    gains = " ".join(f"{m[f'nll.{c}'] - m['nll.thoughts']:+7.4f}" for c in MODES[1:])
    return f"{step:5d} | {acc} | {nll} | {gains} | {m['w']:+.3f}"


def header() -> str:
    """The table's two header lines."""
    names = " ".join(f"{mode[:6]:>6s}" for mode in MODES)
    nll_names = " ".join(f"{mode[:7]:>7s}" for mode in MODES)
    gain_names = " ".join(f"{'-' + c[:6]:>7s}" for c in MODES[1:])
    return (f"{'steps':>5s} | {'accuracy':^27s} | {'answer NLL, nats/token':^31s} | "
            f"{'NLL gain of thoughts vs':^23s} | {'w':>6s}\n"
            f"{'':5s} | {names} | {nll_names} | {gain_names} |")


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The benchmark's command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--base-steps", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=200, help="thought-training steps")
    parser.add_argument("--lr", type=float, default=3e-4, help="AdamW lr of thought training")
    parser.add_argument("--thought-tokens", type=int, default=4)
    parser.add_argument("--per-position", type=int, default=2)
    parser.add_argument("--n-true", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4, help="thought-training sequences")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--policy-weight", type=float, default=1.0)
    parser.add_argument("--examples", type=int, default=64, help="held-out problems measured")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--measure-at", type=int, nargs="+", help="default: 0 and --steps")
    parser.add_argument("--d-model", type=int, default=48)
    parser.add_argument("--n-layers", type=int, default=2)
    parser.add_argument("--base-text", choices=("answers", "full"), default="answers",
                        help="what the base model learns: the answers, or every token")
    parser.add_argument("--model", help="a base model directory (--save-base) instead of training one")
    parser.add_argument("--save-base", help="save the trained base model here (to reuse with --model)")
    parser.add_argument("--positions", choices=("all", "answers"), default="all",
                        help="thoughts after every token (the paper) or only before answer tokens")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: a shared 2-core machine oversubscribes at 2)")
    return parser.parse_args(argv)


def print_training_tail(log: list[dict]) -> None:
    """The mean of the last 20 training steps' statistics."""
    if log:
        last = log[-20:]
        means = {k: sum(m[k] for m in last) / len(last)
                 for k in ("loss.lm", "loss.mixed", "reward", "mixing_weight")}
        print("last 20 training steps (mean): " + ", ".join(f"{k} {v:+.4f}" for k, v in means.items()))


def main(argv: list[str] | None = None) -> None:
    """Train the base model, train thoughts, measure the four modes, print."""
    args = parse(argv)
    import torch

    from runtime.phases.toolkit.draws import fitting_examples
    from runtime.thoughts.head import MixingHead
    from runtime.thoughts.objective import QuietStarObjective, ThoughtSettings
    from runtime.thoughts.tokens import thought_tokens
    from runtime.training.loop import train_steps

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    model, tokenizer = base_model(args)
    base_seconds = time.perf_counter() - start
    heldout = fitting_examples(list(FAMILIES), args.examples, args.seed, "heldout", tokenizer,
                               SEQ_LEN, args.levels)
    tokens = thought_tokens(tokenizer, args.thought_tokens)
    torch.manual_seed(args.seed + 3)
    head = MixingHead(model.get_output_embeddings().in_features)
    settings = ThoughtSettings(args.per_position, args.n_true, args.temperature, args.policy_weight,
                               answers_only=args.positions == "answers")
    objective = QuietStarObjective(model, head, tokens, settings, tokenizer.pad_token_id)
    optimizer = torch.optim.AdamW(objective.parameters(), lr=args.lr, weight_decay=0.0)
    total = max([args.steps, *(args.measure_at or [])])
    batches = stream(tokenizer, max(1, total) * args.batch_size, args.seed + 4, args.levels,
                     args.batch_size)
    print(f"thought training: AdamW lr {args.lr} (constant after 10 warm-up steps; the phase "
          f"uses MuGrokfast), {args.thought_tokens} thought tokens, {args.per_position} per "
          f"position ({args.positions}), n_true {args.n_true}, batch {args.batch_size}, temperature "
          f"{args.temperature}, policy weight {args.policy_weight}, levels {args.levels}, "
          f"{len(heldout)} held-out problems, seed {args.seed}")
    print(header())
    done, log = 0, []
    torch.manual_seed(args.seed + 5)  # thought sampling in the objective
    for target in sorted(set(args.measure_at or [0, args.steps])):
        if target > done:
            train_steps(objective, optimizer, batches, target, start_step=done, warmup_steps=10,
                        on_step=lambda step, m: log.append(m))
            done = target
        objective.eval()
        print(row(done, measure(model, head, tokens, tokenizer, heldout, args)), flush=True)
    print_training_tail(log)
    print(f"wall time {time.perf_counter() - start:.0f} s (base model {base_seconds:.0f} s)")


if __name__ == "__main__":
    main()
