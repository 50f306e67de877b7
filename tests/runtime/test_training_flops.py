"""Counted training FLOPs: 6 N tokens for a linear model, the CPU attention kernel counted,
gradients left clean; and the FLOP/s benchmark runs end to end."""

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from runtime.training.flops import counter, training_step_flops

ROOT = Path(__file__).resolve().parents[2]


class TinyLM(nn.Module):
    """Embedding (no FLOPs) and a linear head: training costs exactly 6 * d * V per token."""

    def __init__(self, vocab: int = 50, d: int = 16):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, input_ids, labels):
        logits = self.head(self.embed(input_ids))
        return SimpleNamespace(loss=F.cross_entropy(logits.flatten(0, 1), labels.flatten()))


def test_linear_model_costs_six_flops_per_weight_per_token():
    model = TinyLM()
    ids = torch.randint(0, 50, (3, 7))
    flops = training_step_flops(model, ids, ids)
    assert flops == 6 * 16 * 50 * ids.numel()  # forward 2NT, backward 4NT
    assert all(p.grad is None for p in model.parameters())


def test_cpu_attention_kernel_is_counted():
    q, k, v = (torch.randn(2, 3, 5, 8, requires_grad=True) for _ in range(3))
    with counter() as count:
        F.scaled_dot_product_attention(q, k, v).sum().backward()
    forward = 2 * (2 * 2 * 3 * 5 * 5 * 8)  # q k^T and (scores) v
    assert count.get_total_flops() == forward + int(2.5 * forward)  # backward: torch's 2.5x


def test_flops_benchmark_runs_on_the_smoke_recipe():
    done = subprocess.run([sys.executable, "benchmarks/cognate_flops.py", "--recipe",
                           "recipes/smoke.forge", "--steps", "2", "--warmup", "1", "--rounds", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("of peak (best round)") == 2
