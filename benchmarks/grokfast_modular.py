"""Grokfast on a grokking task: steps to 95% validation accuracy on (a + b) mod p.

Trains the same model from the same seed on the same split twice in one run — once
with the Grokfast-EMA filter, once without — under the same step budget, and prints
the steps each needed to reach 95% held-out accuracy and their ratio.

    python benchmarks/grokfast_modular.py            # p = 53, 50% train, 6000 steps
    python benchmarks/grokfast_modular.py --quick    # lr 3e-3, 3000 steps: under a minute
    python benchmarks/grokfast_modular.py --optimizer mugrokfast
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

# Run from a checkout without installing: the repository root holds `runtime/`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from runtime.optim import GrokfastEMA, MuGrokfast, MuGrokfastConfig  # noqa: E402

TARGET_ACCURACY = 0.95


@dataclass
class Setting:
    """One benchmark configuration (defaults: the full run)."""

    p: int = 53  # modulus; p = 97 is the paper's, 53 keeps a run to minutes on 2 cores
    train_fraction: float = 0.5  # half the p² pairs are trained on, the rest held out
    steps: int = 6000  # step budget for each of the two runs
    eval_every: int = 10  # resolution of the "steps to 95%" measurement
    lr: float = 1e-3  # AdamW lr (and MuGrokfast's adam_lr)
    muon_lr: float = 0.02  # MuGrokfast only
    weight_decay: float = 1.0  # strong decay: what makes this MLP grok at all
    alpha: float = 0.98  # Grokfast-EMA paper defaults
    lamb: float = 2.0
    d_embed: int = 128
    d_hidden: int = 256
    seed: int = 0
    optimizer: str = "adamw"


class ModularMLP(nn.Module):
    """Embed a and b, concatenate, one hidden ReLU layer, classify the residue."""

    def __init__(self, p: int, d_embed: int, d_hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(p, d_embed)
        self.hidden = nn.Linear(2 * d_embed, d_hidden)
        self.head = nn.Linear(d_hidden, p)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:  # pairs: (N, 2)
        x = self.embed(pairs).flatten(1)  # (N, 2·d_embed)
        return self.head(torch.relu(self.hidden(x)))  # (N, p)


def modular_split(p: int, train_fraction: float, seed: int):
    """All (a, b) pairs with label (a + b) mod p, split into disjoint train / held-out sets."""
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    pairs = torch.stack([a.flatten(), b.flatten()], dim=1)  # (p², 2)
    labels = (pairs[:, 0] + pairs[:, 1]) % p  # (p²,)
    order = torch.randperm(p * p, generator=torch.Generator().manual_seed(seed))
    n_train = int(train_fraction * p * p)
    train, held_out = order[:n_train], order[n_train:]
    return (pairs[train], labels[train]), (pairs[held_out], labels[held_out])


def _optimizer(model: nn.Module, s: Setting, grokfast: bool):
    """The optimiser and, for AdamW, the standalone Grokfast filter (or None)."""
    lamb = s.lamb if grokfast else 0.0
    if s.optimizer == "mugrokfast":
        cfg = MuGrokfastConfig(muon_lr=s.muon_lr, adam_lr=s.lr, weight_decay=s.weight_decay,
                               grokfast_alpha=s.alpha, grokfast_lambda=lamb, qk_clip_tau=0.0)
        return MuGrokfast(model, cfg), None
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay,
                            betas=(0.9, 0.98))
    return opt, (GrokfastEMA(s.alpha, lamb) if grokfast else None)


@torch.no_grad()
def accuracy(model: nn.Module, pairs: torch.Tensor, labels: torch.Tensor) -> float:
    """Exact-match accuracy of the argmax residue."""
    return (model(pairs).argmax(dim=-1) == labels).float().mean().item()


def train_until_grokked(s: Setting, grokfast: bool) -> dict:
    """Full-batch training; returns steps to 95% held-out accuracy (None if not reached)."""
    (x_tr, y_tr), (x_val, y_val) = modular_split(s.p, s.train_fraction, s.seed)
    torch.manual_seed(s.seed)
    model = ModularMLP(s.p, s.d_embed, s.d_hidden)
    opt, grokfast_filter = _optimizer(model, s, grokfast)
    reached, start, step = None, time.perf_counter(), 0
    train_acc_step = None  # first step with 100% train accuracy: memorisation
    for step in range(1, s.steps + 1):
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x_tr), y_tr).backward()
        if grokfast_filter is not None:
            grokfast_filter.apply(model)
        opt.step()
        if step % s.eval_every:
            continue
        if train_acc_step is None and accuracy(model, x_tr, y_tr) == 1.0:
            train_acc_step = step
        if accuracy(model, x_val, y_val) >= TARGET_ACCURACY:
            reached = step
            break
    return {"reached": reached, "memorised": train_acc_step, "steps_run": step,
            "val_accuracy": accuracy(model, x_val, y_val),
            "seconds": time.perf_counter() - start}


def _describe(name: str, r: dict, budget: int) -> str:
    hit = f"{r['reached']} steps" if r["reached"] else f"not reached within {budget} steps"
    return (f"{name:<18} 95% val acc: {hit:<32} train acc 100% at step {r['memorised']}, "
            f"final val acc {r['val_accuracy']:.3f}, {r['seconds']:.1f} s")


def main(argv: list[str] | None = None) -> dict:
    """Run both trainings side by side and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke setting")
    parser.add_argument("--optimizer", choices=("adamw", "mugrokfast"), default="adamw")
    parser.add_argument("--steps", type=int, help="step budget per run")
    parser.add_argument("--p", type=int, help="modulus")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    s = Setting(optimizer=args.optimizer, seed=args.seed)
    if args.quick:
        s.steps, s.lr = 3000, 3e-3  # a larger lr groks in ~1-2k steps here
    s.steps = args.steps or s.steps
    s.p = args.p or s.p
    print(f"(a + b) mod {s.p}, train fraction {s.train_fraction}, optimizer {s.optimizer}, "
          f"wd {s.weight_decay}, budget {s.steps} steps, seed {s.seed}, "
          f"{torch.get_num_threads()} threads")
    runs = {"with grokfast": train_until_grokked(s, grokfast=True),
            "without grokfast": train_until_grokked(s, grokfast=False)}
    for name, r in runs.items():
        print(_describe(name, r, s.steps))
    with_g, without = runs["with grokfast"]["reached"], runs["without grokfast"]["reached"]
    if with_g and without:
        print(f"speed-up (steps without / steps with): {without / with_g:.2f}x")
    else:
        print("speed-up: not measurable, a run did not reach 95% within the budget")
    return runs


if __name__ == "__main__":
    main()
