"""The quietstar phase's cost model: what the kernel runs, counted pass by pass.

- measurement: the input and the output on the held-out set (greedy decoding without a
  KV cache until the batch's longest answer ends, plus two perplexity passes);
- baking: trajectories sampled from the prompted teacher (the training ones and one per
  held-out query), the student trained on them, KL measured before and after;
- thought training, per step over ``B`` sequences of mean length ``l`` (trimmed batch
  width ``W``): ``R = m B (l - 1)`` rows; ``k`` sampling forwards of the rows (no
  gradient), then one forward + backward of the rows (``W + k + 2 + n`` tokens) and of
  the sequences;
- anti-theatre: ``examples`` answers in four modes, decoded until the longest answer
  ends (at most ``max_new_tokens``); per token, real and shuffled thoughts take ``k``
  sampling forwards plus two (the thought row and the sequence), random tokens two, no
  thought one;
- coherence: thoughts sampled after every position of one batch of held-out text.

Passes are counted with ``forgelang.kinds.pass_cost``; sequence lengths come from the
suite's measured length table (``costs.suite_batch_length``).
"""

from __future__ import annotations

import math

from forgelang.kinds import costs
from forgelang.kinds.pass_cost import ANSWER_SHARE, FORWARD_OP_SHARE, Work, decode_steps

HELDOUT_QUERIES = 8  # held-out trajectories a bake measures its KL on (runtime.phases.quietstar)
REASONING = ("arithmetic", "word_problems")
REASONING_SHARE = 0.7  # of the thought-training text; the other families share the rest


def training_weights(families) -> dict[str, float]:
    """The thought-training mix: reasoning families at 70%, every other family the rest."""
    others = [name for name in families if name not in REASONING]
    weights = {name: REASONING_SHARE / len(REASONING) for name in REASONING}
    weights.update({name: (1 - REASONING_SHARE) / len(others) for name in others})
    return weights


def lengths(p, vocab: int) -> tuple[float, float]:
    """``(mean sequence length, mean trimmed batch width)`` of the training text."""
    from forgelang.kinds.suite_lengths import PERCENTILES

    weights = training_weights(PERCENTILES)
    one = costs.suite_batch_length(p.levels, 1, p.seq_len, vocab, weights)
    return one, costs.suite_batch_length(p.levels, p.batch_size, p.seq_len, vocab, weights)


def largest_batch(p, vocab: int) -> tuple[float, float]:
    """``(rows, width)`` of the largest thought batch of the ``steps`` the phase trains: the
    one holding the longest of its ``steps x batch_size`` sequences (``L``, the expected
    maximum from the suite's length table), beside ``batch_size - 1`` sequences of mean
    length ``l``: ``m ((L - 1) + (B - 1)(l - 1))`` rows, ``L + k + 2`` tokens wide (a
    row is the text up to its position, the thought between its markers, the true tokens
    up to the end of the text). On tiny's seed the largest was 88 rows x 34 (planned 89 x
    35), while the mean batch has about half the rows."""
    from forgelang.kinds.suite_lengths import PERCENTILES

    weights = training_weights(PERCENTILES)
    mean = costs.suite_batch_length(p.levels, 1, p.seq_len, vocab, weights)
    longest = costs.suite_batch_length(p.levels, p.steps * p.batch_size, p.seq_len, vocab,
                                       weights)
    places = (lambda n: n - 1) if p.thought_positions == "all" else (
        lambda n: ANSWER_SHARE * n)
    rows = p.thoughts_per_position * (max(1.0, places(longest))
                                      + (p.batch_size - 1) * max(1.0, places(mean)))
    return rows, longest + p.thought_tokens + 2


def peak_bytes(p, cost) -> int:
    """What the phase adds to the process's memory at its peak, thought training's largest
    step: the training state, the largest thought batch's step and its sequences' step;
    beneath them the heap the measurement and the bake freed, which the allocator keeps
    (``runtime.utils.allocator``: the thresholds are raised for the whole process, so it is
    not given back within the phase): a bake step and the measurement's perplexity forward
    of one held-out batch padded to its longest text (counted: +20 MiB on smoke, +32 on
    tiny while measuring the input)."""
    rows, width = largest_batch(p, cost.vocab_size)
    longest = width - p.thought_tokens - 2
    batch = min(p.eval.batch_size, p.eval.examples)
    mean = costs.suite_batch_length(p.eval.levels, 1, 256, cost.vocab_size)
    padded = costs.suite_batch_length(p.eval.levels, batch, 256, cost.vocab_size)
    query = mean * (1 - ANSWER_SHARE)
    return (costs.training_state_bytes(cost) + cost.step_bytes(round(rows), round(width))
            + cost.step_bytes(p.batch_size, round(longest))
            + cost.step_bytes(p.bake.batch_size, round(query + p.bake.trajectory_tokens))
            + cost.inference_bytes(batch, round(padded)))  # a perplexity batch, padded


def thought_pass(work: Work, cost, p, sequences: int, mean: float, width: float,
                 train: bool) -> float:
    """Sample and score thoughts after every position of ``sequences``; the rows' count."""
    k, m, n = p.thought_tokens, p.thoughts_per_position, p.n_true
    places = mean - 1 if p.thought_positions == "all" else ANSWER_SHARE * mean
    rows = m * sequences * max(1.0, places)
    op_step = cost.train_ops_per_step(round(width + k + 2 + n))
    for i in range(k):
        work.forward(cost, rows, width + 2 + i, op_step)
    score = work.train if train else work.forward
    score(cost, rows, width + k + 2 + n, op_step)
    score(cost, sequences, width, op_step)
    return rows


def anti_theater(work: Work, cost, p, vocab: int) -> None:
    """The four decoding modes on ``anti_theater.examples`` held-out problems."""
    if not p.anti_theater.enabled:
        return
    weights = dict.fromkeys(REASONING, 1.0)
    e, k = p.anti_theater.examples, p.thought_tokens
    mean = costs.suite_batch_length(p.eval.levels, 1, 256, vocab, weights)
    width = costs.suite_batch_length(p.eval.levels, e, 256, vocab, weights)  # padded rows
    for t in range(decode_steps(p.eval.max_new_tokens, mean)):
        length = width * (1 - ANSWER_SHARE) + t + k + 2
        op_step = cost.train_ops_per_step(round(length))
        passes = 2 * (k + 2) + 2 + 1  # thoughts, shuffled, random, none
        for _ in range(passes):
            work.forward(cost, e, length, op_step)


SAMPLE_STEP_OPS = 10  # softmax, multinomial and concatenation after each sampled token's forward


def forward_ops(cost, length: float, extra: float = 0.0) -> float:
    """Tensor ops of one no-grad forward of ``length`` tokens (any number of rows): the
    planned share of a training step's ops, plus ``extra`` per forward (a ternary model's
    input quantisers, LoRA adapters: ``baking_cost.Form``)."""
    return FORWARD_OP_SHARE * cost.train_ops_per_step(round(length)) + extra


def sample(work: Work, cost, rows: float, context: float, tokens: int, extra: float,
           groups: float = 1.0) -> None:
    """``tokens`` tokens sampled after ``context`` tokens (one forward per token, no cache),
    then one forward of the whole for the teacher's distributions; rows of ``groups``
    distinct lengths run as that many forwards (``runtime.baking.forward.causal_logits``)."""
    for i in range(tokens + 1):
        work.forward(cost, rows, context + i, 0.0)  # FLOPs; the ops follow the length
        work.ops += groups * forward_ops(cost, context + i, extra) + SAMPLE_STEP_OPS * (i < tokens)


def distinct(levels, rows: float, vocab: int, weights: dict[str, float]) -> float:
    """Expected distinct encoded lengths among ``rows`` suite examples of the families'
    ``weights`` at ``levels`` (``E = sum_x 1 - (1 - p_x)^rows`` over the length table)."""
    from forgelang.kinds import suite_lengths

    table = (suite_lengths.PERCENTILES if vocab >= suite_lengths.BYTE_MIN_VOCAB
             else suite_lengths.CHAR_PERCENTILES)
    total = sum(weights.values())
    mass: dict[int, float] = {}
    for family, weight in weights.items():
        for level in levels:
            for x in table[family][level]:
                share = weight / (total * len(levels) * len(table[family][level]))
                mass[x] = mass.get(x, 0.0) + share
    return sum(1 - (1 - m) ** rows for m in mass.values())


def bake(work: Work, cost, cfg, prompt_tokens: float, query_tokens: float, *,
         extra: float = 0.0, train_extra: float = 0.0, heldout: float = HELDOUT_QUERIES,
         groups=None) -> None:
    """Baking: trajectories sampled from the prompted teacher in batches (one forward per
    token, no cache) and its logits computed once, for the training and the ``heldout``
    queries; ``steps`` student steps on query + trajectory (a LoRA step on a frozen base
    dispatches about a full training step's ops, plus ``train_extra``); KL measured twice
    on the held-out trajectories. ``extra``: ops added to every forward (``forward_ops``).
    ``groups(rows, held)``: distinct query lengths among ``rows`` training (or held-out)
    queries, each a forward of its own; default one (queries of one length)."""
    groups = groups or (lambda rows, held: 1.0)
    t = cfg.trajectory_tokens
    teacher = prompt_tokens + query_tokens
    for count, held in ((cfg.trajectories, False), (heldout, True)):
        for start in range(0, math.ceil(count), cfg.batch_size):
            rows = min(cfg.batch_size, count - start)
            sample(work, cost, rows, teacher, t, extra, groups(rows, held))
    rows = min(cfg.batch_size, cfg.trajectories)
    step = groups(rows, False) * cost.train_ops_per_step(round(query_tokens + t)) + train_extra
    for _ in range(cfg.steps):
        work.train(cost, cfg.batch_size, query_tokens + t, step)
    rows = min(cfg.batch_size, heldout)
    for _ in range(2 * math.ceil(heldout / cfg.batch_size)):
        work.forward(cost, rows, query_tokens + t, 0.0)
        work.ops += groups(rows, True) * forward_ops(cost, query_tokens + t, extra)
