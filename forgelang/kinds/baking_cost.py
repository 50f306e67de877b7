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
from dataclasses import dataclass

from forgelang.kinds import costs, pass_cost
from forgelang.kinds import quietstar_cost as qc
from forgelang.kinds.pass_cost import Work

TERNARY_BITS = 8.0  # an input stored below this many bits a weight is a ternary model
# Characters per token of a prompt's text for a byte-level vocabulary (our planning
# constant: the suite tokenizer at 512 tokens encodes the default tool prompt's 106
# characters in 50 tokens, the persona-generation prompt's 75 in 47); 1 for the
# character alphabet of smaller vocabularies.
CHARS_PER_TOKEN = 1.8
# Tensor ops added to one forward per hidden linear (``cost.n_matrices``), counted with a
# TorchDispatchMode on the smoke and tiny baking inputs (bitnet -> curriculum outputs, 25 and
# 37 ternary linears; constant over 8-96 tokens): a ternary layer as stored
# (``TernaryLinear``, +212 / +312 ops a forward) and made float with its input quantiser
# kept (``to_float``, +325 / +481); a LoRA adapter on a linear (+105 / +156).
OPS_TERNARY_STORED = 8.5
OPS_TERNARY_FLOAT = 13.0
OPS_LORA = 4.2
# generate(): ops per decoding step beside the forward, and per call (counted: 20-30 / ~10).
GEN_STEP_OPS, GEN_CALL_OPS = 25, 10
# Decoding steps per generate() call: the longest answer of the call's rows and its end
# token. Our planning constant: the 137 scoring calls of the smoke and tiny baking phases
# took 2.1-2.6 steps on average (median 2, a few ran to max_new_tokens); a model that calls
# the calculator takes a second round for the answer, one that never ends max_new_tokens.
ANSWER_STEPS = 2.5
# Answer tokens / example tokens of the families the cycles score (the answer is not in
# the prompt the model decodes after): tool_use 19.2 of 42.9 (byte BPE) and 22.2 of 62.0
# (characters), its calculator call and result included; persona 7.1 of 26.3 and 9.8 of 59.4
# (300 held-out examples, levels 1-10).
ANSWER_SHARES = {"tool_use": (0.45, 0.36), "persona": (0.27, 0.16)}  # (byte BPE, characters)
KL_GROUP_OPS = 20  # indexing and log-softmax around each row group's forward (counted)


@dataclass(frozen=True)
class Form:
    """Ops added to every forward of the model as the phase holds it (``n_matrices`` x the
    ``OPS_*`` above): as loaded (``stored``), made float to bake (``as_float``), and a bake's
    LoRA training step on the float form (``training``). All zero for a float input."""

    stored: float = 0.0
    as_float: float = 0.0
    training: float = 0.0

    @classmethod
    def of(cls, cost, ternary: bool) -> Form:
        n = cost.n_matrices
        if not ternary:
            return cls()
        return cls(OPS_TERNARY_STORED * n, OPS_TERNARY_FLOAT * n, OPS_TERNARY_FLOAT * n)


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


def length_mass(p, vocab: int, family: str | None = None) -> dict[int, float]:
    """Probability of each encoded length of one suite example (of ``family``, or of every
    family) at the eval levels, from the suite's length table."""
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
    return mass


def distinct_lengths(p, rows: int, vocab: int, family: str | None = None) -> float:
    """Expected distinct token lengths among ``rows`` suite examples (of ``family``, or of
    every family) at the eval levels: the generate() calls / forwards per step, since rows
    run in groups of one length. ``E = sum_x 1 - (1 - p_x)^rows`` over the length table."""
    return sum(1 - (1 - m) ** rows for m in length_mass(p, vocab, family).values())


def one_length_rows(p, rows: int, vocab: int, family: str, most: int) -> float:
    """Expected rows of the commonest length among ``rows`` examples, at most ``most``: the
    bakes' held-out queries (``runtime.phases.baking.episodes.one_length``). Counts of a
    length are taken as independent Poisson draws (``E min(most, M) = sum_j P(M >= j)``)."""
    lams = [rows * m for m in length_mass(p, vocab, family).values()]
    total = 0.0
    for j in range(1, most + 1):
        below = 1.0  # P(every length has fewer than j rows)
        for lam in lams:
            term, cdf = math.exp(-lam), 0.0
            for k in range(j):
                cdf += term
                term *= lam / (k + 1)
            below *= min(1.0, cdf)
        total += 1 - below
    return max(1.0, min(float(most), total))


def answer_share(family: str, vocab: int) -> float:
    """The share of an example of ``family`` that is its answer, for ``vocab``'s alphabet."""
    from forgelang.kinds.suite_lengths import BYTE_MIN_VOCAB

    return ANSWER_SHARES[family][0 if vocab >= BYTE_MIN_VOCAB else 1]


def family_length(p, vocab: int, family: str) -> float:
    """Mean encoded length of one suite example of ``family`` at the eval levels."""
    return costs.suite_batch_length(p.eval.levels, 1, 256, vocab, {family: 1.0})


def answers(work: Work, cost, p, family: str, rows: int, extra: float,
            prefix: float = 0.0) -> None:
    """Greedy answers to ``rows`` episodes of ``family`` (``prefix`` tokens before each
    prompt: a persona): one generate() call per distinct prompt length, ``ANSWER_STEPS``
    decoding steps each, one forward of the prompt so far per step."""
    steps = min(p.eval.max_new_tokens, ANSWER_STEPS)
    share = answer_share(family, cost.vocab_size)
    for x, m in length_mass(p, cost.vocab_size, family).items():
        prompt = x * (1 - share) + prefix
        calls = 1 - (1 - m) ** rows
        work.ops += calls * GEN_CALL_OPS
        for t in range(math.ceil(steps)):
            part = min(1.0, steps - t)  # of the calls that take this step
            work.flops += part * rows * m * (prompt + t) * cost.forward_flops_per_token(
                round(prompt + t))
            work.ops += part * calls * (qc.forward_ops(cost, prompt + t, extra) + GEN_STEP_OPS)


def kl_pass(work: Work, cost, p, extra: float) -> None:
    """The held-out texts run once (the reference, or the KL of the current model): per
    batch, one forward per distinct row length."""
    mean = costs.suite_batch_length(p.eval.levels, 1, 256, cost.vocab_size)
    batches = math.ceil(p.eval.examples / p.eval.batch_size)
    rows = min(p.eval.batch_size, p.eval.examples)
    work.forward(cost, p.eval.examples, mean, 0.0)  # FLOPs; ops per row length below
    for x, m in length_mass(p, cost.vocab_size).items():
        work.ops += batches * (1 - (1 - m) ** rows) * (qc.forward_ops(cost, x, extra)
                                                       + KL_GROUP_OPS)


def cycle_bake(work: Work, cost, p, form: Form, family: str, rows: int,
               prompt_tokens: float) -> None:
    """One bake of a cycle: the queries are training prompts of ``family`` of its commonest
    length (``episodes.one_length``: the mode of the length table); the held-out ones,
    prompts of one length among the ``rows`` scored episodes."""
    mass = length_mass(p, cost.vocab_size, family)
    commonest = max(mass, key=lambda x: (mass[x], -x))
    query = commonest * (1 - answer_share(family, cost.vocab_size))
    heldout = one_length_rows(p, rows, cost.vocab_size, family, qc.HELDOUT_QUERIES)
    qc.bake(work, cost, p.bake, prompt_tokens, query, extra=form.as_float,
            train_extra=form.training, heldout=heldout)


def a_iteration(work: Work, cost, p, form: Form, jsonl_lines: int = 0) -> None:
    """Tool episodes answered, the tool prompt baked, the KL to the input."""
    episodes = p.a_cycle.episodes + jsonl_lines
    answers(work, cost, p, "tool_use", episodes, form.as_float)
    cycle_bake(work, cost, p, form, "tool_use", episodes,
               text_tokens(p.a_cycle.prompt, cost.vocab_size))
    kl_pass(work, cost, p, form.as_float)


def write_personas(work: Work, cost, p, form: Form) -> float:
    """The personas written in one batch after the instruction; their planned length."""
    b = p.b_cycle
    instruction = text_tokens(b.prompt, cost.vocab_size) + 2  # <|bos|> and <|sep|>
    written = persona_length(p, cost.vocab_size)
    for i in range(written):
        work.forward(cost, b.personas, instruction + i, 0.0)
        work.ops += qc.forward_ops(cost, instruction + i, form.as_float) + qc.SAMPLE_STEP_OPS
    return written


def b_iteration(work: Work, cost, p, form: Form) -> None:
    """Personas written, scored (with each persona and without), the best baked, the KL."""
    b = p.b_cycle
    written = write_personas(work, cost, p, form)
    for _ in range(b.personas):
        answers(work, cost, p, "persona", b.episodes, form.as_float, prefix=written + 1)
    answers(work, cost, p, "persona", b.episodes, form.as_float)
    cycle_bake(work, cost, p, form, "persona", b.episodes, written)
    kl_pass(work, cost, p, form.as_float)


def final_scores(work: Work, cost, p, extra: float) -> None:
    """The result's tool score and its persona score without a persona prompt."""
    answers(work, cost, p, "tool_use", p.a_cycle.episodes, extra)
    answers(work, cost, p, "persona", p.b_cycle.episodes, extra)


def phase_work(p, cost, ternary: bool) -> tuple[Work, int, int]:
    """Every pass of the phase: ``(work, A iterations, B iterations)``."""
    work, form = Work(), Form.of(cost, ternary)
    pass_cost.measurement(work, cost, p, cost.vocab_size)  # the input
    kl_pass(work, cost, p, form.stored)  # its distributions: the KL reference
    a_iters, b_iters = (p.max_iterations + 1) // 2, p.max_iterations // 2
    for _ in range(a_iters):
        a_iteration(work, cost, p, form)
    for _ in range(b_iters):
        b_iteration(work, cost, p, form)
    if ternary:  # the float result first, then stored ternary again
        final_scores(work, cost, p, form.as_float)
        pass_cost.measurement(work, cost, p, cost.vocab_size)
        kl_pass(work, cost, p, form.as_float)  # the float result's distributions
        kl_pass(work, cost, p, form.stored)  # the stored result's KL to them
    final_scores(work, cost, p, form.stored)
    pass_cost.measurement(work, cost, p, cost.vocab_size)
    kl_pass(work, cost, p, form.stored)  # the result's KL to the input
    return work, a_iters, b_iters
