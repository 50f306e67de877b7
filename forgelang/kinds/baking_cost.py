"""The baking phase's cost model: what the kernel runs, counted pass by pass.

- measurement: the input, and the output, on the held-out set (``pass_cost.measurement``);
  the input's next-token distributions on the held-out texts once (the KL reference);
- A-cycle iteration: greedy answers to ``a_cycle.episodes`` tool episodes (plus the user's
  held-out JSONL lines), the tool prompt baked (``quietstar_cost.bake``), the KL to the
  input (one forward of the held-out texts);
- B-cycle iteration: ``personas`` persona prompts sampled in one batch (one forward per
  token, no cache; a persona ends where an answer would, at most ``persona_tokens``
  tokens), ``personas + 1`` groups of
  ``b_cycle.episodes`` persona episodes answered (each persona prepended, and none), the
  best persona baked, the KL to the input;
- the output's tool and persona scores; for a ternary input also the float result's
  measurement, scores and distributions before it is stored ternary again.

Iterations alternate A, B, A, ... up to ``max_iterations`` (an early stop when both
cycles plateau is not foreseen, so the estimate is an upper bound on iterations).
"""

from __future__ import annotations

import math

from forgelang.kinds import costs, pass_cost
from forgelang.kinds import quietstar_cost as qc
from forgelang.kinds.pass_cost import ANSWER_SHARE, FORWARD_OP_SHARE, Work

TERNARY_BITS = 8.0  # an input stored below this many bits a weight is a ternary model
# Characters per token of a prompt's text for a byte-level vocabulary (our planning
# constant: the suite tokenizer at 512 tokens encodes the default tool prompt's 106
# characters in 50 tokens, the persona-generation prompt's 75 in 47); 1 for the
# character alphabet of smaller vocabularies.
CHARS_PER_TOKEN = 1.8


def text_tokens(text: str, vocab: int) -> float:
    """Planned tokens of a prompt's text."""
    from forgelang.kinds.suite_lengths import BYTE_MIN_VOCAB

    return len(text) / (CHARS_PER_TOKEN if vocab >= BYTE_MIN_VOCAB else 1.0)


def persona_length(p, vocab: int) -> float:
    """Planned tokens of a written persona: it ends where an answer would
    (``pass_cost.decode_steps``, the decoding estimates' assumption), at most
    ``persona_tokens``; a model that writes long personas takes longer."""
    mean = costs.suite_batch_length(p.eval.levels, 1, 256, vocab)
    return pass_cost.decode_steps(p.b_cycle.persona_tokens, mean)


def distinct_lengths(p, rows: int, vocab: int, family: str | None = None) -> float:
    """Expected distinct token lengths among ``rows`` suite examples (of ``family``, or of
    every family) at the eval levels: the generate() calls / forwards per step, since rows
    run in groups of one length. ``E = sum_x 1 - (1 - p_x)^rows`` over the length table."""
    from forgelang.kinds import suite_lengths

    table = (suite_lengths.PERCENTILES if vocab >= suite_lengths.BYTE_MIN_VOCAB
             else suite_lengths.CHAR_PERCENTILES)
    families = [family] if family else list(table)
    mass: dict[int, float] = {}
    for name in families:
        for level in p.eval.levels:
            points = table[name][level]
            for x in points:
                share = 1 / (len(points) * len(p.eval.levels) * len(families))
                mass[x] = mass.get(x, 0.0) + share
    return sum(1 - (1 - m) ** rows for m in mass.values())


def family_length(p, vocab: int, family: str) -> float:
    """Mean encoded length of one suite example of ``family`` at the eval levels."""
    return costs.suite_batch_length(p.eval.levels, 1, 256, vocab, {family: 1.0})


def answers(work: Work, cost, p, examples: int, length: float, groups: float) -> None:
    """Greedy answers to ``examples`` prompts of mean ``length`` tokens (suite example
    length, answer included), decoded in ``groups`` generate() calls per step."""
    steps = pass_cost.decode_steps(p.eval.max_new_tokens, length)
    op_step = cost.train_ops_per_step(round(length))
    for t in range(steps):
        work.flops += examples * (length * (1 - ANSWER_SHARE) + t) * cost.forward_flops_per_token(
            round(length))
        work.ops += groups * FORWARD_OP_SHARE * op_step


def kl_pass(work: Work, cost, p, vocab: int) -> None:
    """The held-out texts run once (the reference, or the KL of the current model)."""
    mean = costs.suite_batch_length(p.eval.levels, 1, 256, vocab)
    batches = math.ceil(p.eval.examples / p.eval.batch_size)
    rows = min(p.eval.batch_size, p.eval.examples)
    groups = batches * distinct_lengths(p, rows, vocab)  # one forward per row length
    work.forward(cost, p.eval.examples, mean, groups * cost.train_ops_per_step(round(mean)))


def a_iteration(work: Work, cost, p, jsonl_lines: int = 0) -> None:
    """Tool episodes answered, the tool prompt baked, the KL to the input."""
    tool = family_length(p, cost.vocab_size, "tool_use")
    episodes = p.a_cycle.episodes + jsonl_lines
    answers(work, cost, p, episodes, tool, distinct_lengths(p, episodes, cost.vocab_size,
                                                            "tool_use"))
    qc.bake(work, cost, p.bake, text_tokens(p.a_cycle.prompt, cost.vocab_size),
            tool * (1 - ANSWER_SHARE))
    kl_pass(work, cost, p, cost.vocab_size)


def b_iteration(work: Work, cost, p) -> None:
    """Personas written, scored (with each persona and without), the best baked, the KL."""
    b = p.b_cycle
    instruction = text_tokens(b.prompt, cost.vocab_size) + 2  # <|bos|> and <|sep|>
    written = persona_length(p, cost.vocab_size)
    op_write = cost.train_ops_per_step(round(instruction + written))
    for i in range(written):
        work.forward(cost, b.personas, instruction + i, op_write)
    persona = family_length(p, cost.vocab_size, "persona")
    groups = b.personas + 1
    answers(work, cost, p, groups * b.episodes, persona + written * b.personas / groups,
            groups * distinct_lengths(p, b.episodes, cost.vocab_size, "persona"))
    qc.bake(work, cost, p.bake, written, persona * (1 - ANSWER_SHARE))
    kl_pass(work, cost, p, cost.vocab_size)


def final_scores(work: Work, cost, p) -> None:
    """The result's tool score and its persona score without a persona prompt."""
    tool = family_length(p, cost.vocab_size, "tool_use")
    persona = family_length(p, cost.vocab_size, "persona")
    a, b = p.a_cycle.episodes, p.b_cycle.episodes
    answers(work, cost, p, a, tool, distinct_lengths(p, a, cost.vocab_size, "tool_use"))
    answers(work, cost, p, b, persona, distinct_lengths(p, b, cost.vocab_size, "persona"))


def phase_work(p, cost, ternary: bool) -> tuple[Work, int, int]:
    """Every pass of the phase: ``(work, A iterations, B iterations)``."""
    work = Work()
    pass_cost.measurement(work, cost, p, cost.vocab_size)  # the input
    kl_pass(work, cost, p, cost.vocab_size)  # its distributions: the KL reference
    a_iters, b_iters = (p.max_iterations + 1) // 2, p.max_iterations // 2
    for _ in range(a_iters):
        a_iteration(work, cost, p)
    for _ in range(b_iters):
        b_iteration(work, cost, p)
    for _ in range(2 if ternary else 1):  # the float result first, for a ternary input
        final_scores(work, cost, p)
        pass_cost.measurement(work, cost, p, cost.vocab_size)
    if ternary:
        kl_pass(work, cost, p, cost.vocab_size)  # the float result's distributions
        kl_pass(work, cost, p, cost.vocab_size)  # the stored result's KL to them
    kl_pass(work, cost, p, cost.vocab_size)  # the result's KL to the input
    return work, a_iters, b_iters
