"""Counting a kernel's passes: FLOPs and tensor ops of forwards, training steps and the
held-out measurement, shared by the estimates of the phases that are counted pass by pass.

Time = FLOPs at the device's throughput + tensor ops at its per-op cost (a forward pass
dispatches ``FORWARD_OP_SHARE`` of a training step's ops, counted). An
answer is taken to be ``ANSWER_SHARE`` of a suite example's tokens (our planning
constant): decoding stops when the answers end, so a model that never ends its answers
runs up to ``max_new_tokens`` steps and takes longer than estimated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from forgelang.kinds import costs

# A no-grad forward's tensor ops / a training step's (forward + backward + optimiser), counted
# on float Cognate models (TorchDispatchMode, batches of 8-34 tokens): tiny 0.266-0.267,
# smoke 0.253-0.259.
FORWARD_OP_SHARE = 0.26
ANSWER_SHARE = 0.15  # of a suite example's tokens that are its answer (a number, a word)
LENGTH_GROUPS = 8  # distinct prompt lengths among held-out examples (generate() calls)


@dataclass
class Work:
    """FLOPs and tensor ops, summed over the passes of the phase."""

    flops: float = 0.0
    ops: float = 0.0

    def forward(self, cost, rows: float, length: float, op_step: float) -> None:
        """One no-grad forward of ``rows`` sequences of ``length`` tokens."""
        self.flops += rows * length * cost.forward_flops_per_token(round(length))
        self.ops += FORWARD_OP_SHARE * op_step

    def train(self, cost, rows: float, length: float, op_step: float) -> None:
        """One forward + backward of ``rows`` sequences of ``length`` tokens."""
        self.flops += rows * length * cost.train_flops_per_token(round(length))
        self.ops += op_step


def decode_steps(max_new_tokens: int, mean: float) -> int:
    """Decoding steps until the answers of a batch have ended: an answer
    (``ANSWER_SHARE`` of a mean example) plus its end token, at most the budget."""
    return min(max_new_tokens, math.ceil(ANSWER_SHARE * mean) + 1)


def measurement(work: Work, cost, p, vocab: int) -> None:
    """Greedy decoding of the held-out set (every family; batches of equal prompt length,
    no KV cache) plus its perplexity and answer perplexity."""
    e = p.eval
    mean = costs.suite_batch_length(e.levels, 1, 256, vocab)
    steps = decode_steps(e.max_new_tokens, mean)
    groups = min(e.examples, LENGTH_GROUPS)  # generate() calls: one per prompt length
    op_step = cost.train_ops_per_step(round(mean))
    for t in range(steps):
        work.flops += e.examples * (mean * (1 - ANSWER_SHARE) + t) * cost.forward_flops_per_token(
            round(mean))
        work.ops += groups * FORWARD_OP_SHARE * op_step
    for _ in range(2):  # perplexity and answer perplexity: one forward of every example
        work.forward(cost, e.examples, mean, op_step * math.ceil(e.examples / e.batch_size))
