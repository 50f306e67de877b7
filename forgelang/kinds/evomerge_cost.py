"""The evomerge phase's cost model: what the kernel runs, counted pass by pass.

- every measured model (the inputs, then each new candidate) runs on the held-out set:
  greedy decoding and one perplexity forward per batch (the search leaves answer
  perplexity out); ``heldout_work`` counts it;
- each candidate is first merged (``MERGE_OPS_PER_TENSOR`` tensor ops per weight tensor,
  a few FLOPs per weight per input), and the champion is merged once more at the end;
- behavioural diversity compares the prediction strings: no tensor op.

The held-out measurement, as ``runtime.eval`` runs it (the kernel's toolkit ``measure``):
prompts are decoded in one ``generate()`` call per prompt length (at most ``batch_size``
rows each), so the calls are the expected number of distinct prompt lengths among the
drawn examples (from the suite's length table) or ``examples / batch_size``, whichever is
larger, per length. A call runs ``pass_cost.decode_steps`` steps; each step is one forward
over the whole prefix (no KV cache: its tensor ops grow with the memory chunks the prefix
fills) plus ``GENERATE_OPS_PER_STEP`` of ``generate()``'s own. Counted on the smoke and
tiny evomerge phases (every call of every candidate): 17 and 22 calls per candidate
against 18.0 and 22.3 expected distinct lengths.
"""

from __future__ import annotations

import math

from forgelang.kinds import costs, pass_cost, suite_lengths

# tensor ops counted (TorchDispatchMode) on the smoke and tiny evomerge phases, every
# generate() call regressed on its steps, beside the model's own forwards (residual < 4 ops):
GENERATE_OPS_PER_STEP = 23  # logits processors, argmax, cat, stopping criteria (23.1)
GENERATE_OPS_PER_CALL = 18  # input tensors, attention mask, output slicing (17.8)
NLL_OPS_PER_ROW = 15  # right-padding a row into the batch (14-17 counted, batch of 48)
# per weight tensor of a merge, averaged over the six techniques (tiny, 64 tensors: linear
# 11, slerp 22, dare 31, ties 64; frankenmerge/dfs copy layers: 8-11); DFS adds a scale
MERGE_OPS_PER_TENSOR = 25
MERGE_FLOPS_PER_PARAM = 10
# RSS a held-out measurement adds above the phase's start / ``inference_bytes`` of its
# perplexity batch, fitted to the apply's ``memory_above_start_bytes`` (what the phase
# holds taken out): evomerge tiny 2.35, smoke 2.75; compression smoke 2.5. The forward's
# logits, their float copy and log-softmax, and heap the allocator keeps after it.
MEASURE_RSS_FACTOR = 2.5  # TIES/DARE: threshold, sign election, masked mean; linear ~3


def length_mass(levels, vocab: int, seq_len: int = 256) -> dict[int, float]:
    """Probability of each encoded example length of the suite's held-out draw (every
    family equally, ``levels`` uniformly), among the lengths that fit ``seq_len``."""
    table = (suite_lengths.PERCENTILES if vocab >= suite_lengths.BYTE_MIN_VOCAB
             else suite_lengths.CHAR_PERCENTILES)
    mass: dict[int, float] = {}
    for rows in table.values():
        for level in levels:
            for x in rows[level]:
                mass[x] = mass.get(x, 0.0) + 1.0 / len(rows[level])
    fitting = {x: m for x, m in mass.items() if x <= seq_len}
    total = sum(fitting.values()) or 1.0
    return {x: m / total for x, m in sorted(fitting.items())}


def forward_ops(cost, length: float, extra: float = 0.0) -> float:
    """Tensor ops of one no-grad forward over ``length`` tokens (``extra``: what the
    model's stored form adds per forward, e.g. ternary layers)."""
    return pass_cost.FORWARD_OP_SHARE * cost.train_ops_per_step(max(1, round(length))) + extra


def generate_calls(m: float, e) -> float:
    """Expected ``generate()`` calls for prompts of a length of probability ``m``: one if any
    drawn example has it, more when they outnumber ``batch_size``."""
    return max(1 - (1 - m) ** e.examples, e.examples * m / e.batch_size)


def decode_work(work: pass_cost.Work, cost, e, vocab: int, extra: float = 0.0,
                steps: int | None = None) -> None:
    """Greedy decoding of ``e.examples`` held-out examples (see the module docstring);
    ``steps`` per call, or ``pass_cost.decode_steps``'s."""
    mass = length_mass(e.levels, vocab)
    mean = costs.suite_batch_length(e.levels, 1, 256, vocab)
    steps = pass_cost.decode_steps(e.max_new_tokens, mean) if steps is None else steps
    for x, m in mass.items():
        calls = generate_calls(m, e)
        prompt = x * (1 - pass_cost.ANSWER_SHARE)
        work.ops += calls * GENERATE_OPS_PER_CALL
        for t in range(steps):
            work.ops += calls * (forward_ops(cost, prompt + t, extra) + GENERATE_OPS_PER_STEP)
            work.flops += e.examples * m * (prompt + t) * cost.forward_flops_per_token(
                round(prompt + t))


def nll_work(work: pass_cost.Work, cost, e, vocab: int, extra: float = 0.0) -> None:
    """One right-padded forward of every held-out example (perplexity, answer perplexity)."""
    batches = math.ceil(e.examples / e.batch_size)
    longest = costs.suite_batch_length(e.levels, min(e.batch_size, e.examples), 256, vocab)
    mean = costs.suite_batch_length(e.levels, 1, 256, vocab)
    work.ops += batches * forward_ops(cost, longest, extra) + e.examples * NLL_OPS_PER_ROW
    work.flops += e.examples * longest * cost.forward_flops_per_token(round(mean))


def heldout_work(work: pass_cost.Work, cost, e, vocab: int, *, answer_nll: bool = True,
                 extra: float = 0.0) -> None:
    """The toolkit's ``measure``: decoding, perplexity and (``answer_nll``) answer perplexity."""
    decode_work(work, cost, e, vocab, extra)
    for _ in range(2 if answer_nll else 1):
        nll_work(work, cost, e, vocab, extra)


def tensors_of(cost) -> int:
    """Weight tensors of the model (per layer and outside the layers, as ``costs`` counts)."""
    return costs.TENSORS_PER_LAYER * cost.n_layers + costs.TENSORS_TOP


def phase_work(p, first, cost, k: int) -> tuple[pass_cost.Work, int]:
    """Every pass of the phase and the number of models measured."""
    work = pass_cost.Work()
    # evolve: + the champion, rebuilt at the end; merge mode measures the inputs too
    merges = p.candidates() + (p.mode == "evolve")
    measured = p.candidates() + k
    for _ in range(measured):
        heldout_work(work, cost, p.eval, cost.vocab_size, answer_nll=False)
    work.ops += merges * MERGE_OPS_PER_TENSOR * tensors_of(cost)
    work.flops += merges * MERGE_FLOPS_PER_PARAM * first.params * k
    return work, measured


def measure_bytes(cost, e) -> int:
    """What a held-out measurement adds to the process's RSS: its largest no-grad forward
    (perplexity's right-padded batch) at ``MEASURE_RSS_FACTOR``."""
    rows = min(e.batch_size, e.examples)
    longest = costs.suite_batch_length(e.levels, rows, 256, cost.vocab_size)
    return int(MEASURE_RSS_FACTOR * cost.inference_bytes(rows, round(longest)))


def peak_bytes(p, cost, k: int) -> int:
    """What the phase adds to the process at its peak: the inputs, the candidate being
    built and its base, and a held-out measurement."""
    return int((k + 2) * costs.FP32 * cost.params + measure_bytes(cost, p.eval))
