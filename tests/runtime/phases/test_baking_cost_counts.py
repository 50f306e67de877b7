"""The baking and quietstar estimates count the tensor ops and batches the kernels really run.

Counted with a ``TorchDispatchMode`` on a smoke-sized Cognate model stored ternary (the
form baking gets from bitnet -> curriculum): one forward as stored and made float
(``baking_cost.Form``), and one whole prompt bake (``runtime.baking.bake_prompt``), against
``quietstar_cost.forward_ops`` / ``quietstar_cost.bake``. Quietstar's peak memory follows
its largest thought batch: the planned one is checked against the batches the tiny recipe's
thought training draws.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from forgelang.kinds import baking_cost as bc
from forgelang.kinds import costs, pass_cost
from forgelang.kinds import quietstar_cost as qc
from forgelang.kinds.cognate import CognateParams, output_spec
from forgelang.kinds.common import BakeConfig
from forgelang.kinds.quietstar import QuietStarParams
from tests.runtime.phases.kernel_inputs import cognate_input


class Count(TorchDispatchMode):
    """Counts every aten op dispatched inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.n += 1
        return func(*args, **(kwargs or {}))


def counted(fn, *args, **kwargs) -> int:
    """Ops ``fn(*args, **kwargs)`` dispatches."""
    with Count() as count:
        fn(*args, **kwargs)
    return count.n


@pytest.fixture(scope="module")
def ternary(tmp_path_factory):
    """``(model, tokenizer, cost)``: the smoke Cognate model stored ternary, reloaded."""
    from runtime.formats.ternary import save_ternary
    from runtime.phases.toolkit.inputs import load_model, load_tokenizer

    root = tmp_path_factory.mktemp("ternary")
    source = cognate_input(root / "float").path
    save_ternary(load_model(source, "cpu"), load_tokenizer(source), root / "ternary",
                 activation_bits=8)
    cost = costs.cost_of(output_spec(CognateParams(architecture="smoke").architecture))
    return load_model(root / "ternary", "cpu").eval(), load_tokenizer(root / "ternary"), cost


def test_a_ternary_forward_counts_its_input_quantisers(ternary):
    """Stored and made float, one no-grad forward at one and at three memory chunks is
    planned within 10% (the float Cognate forward alone misses the quantisers by 30-50%)."""
    import copy

    from runtime.bitnet.trainable import to_float

    model, _, cost = ternary
    model = copy.deepcopy(model)
    form = bc.Form.of(cost, ternary=True)
    for extra, prepare in ((form.stored, None), (form.as_float, to_float)):
        if prepare:
            prepare(model)
        for length in (20, 80):
            ids = torch.randint(3, cost.vocab_size, (4, length))
            with torch.no_grad():
                model(input_ids=ids)  # first call: one-time work (unpacking the codes)
                real = counted(model, input_ids=ids)
            planned = qc.forward_ops(cost, length, extra)
            assert planned == pytest.approx(real, rel=0.10), (extra, length)


def test_a_bake_on_a_ternary_model_is_counted_within_15_percent(ternary):
    """Sampling (one forward per token at its own length), the teacher's logits, the LoRA
    steps on the float form and the held-out KL: the planned ops of the whole bake."""
    import copy

    from runtime.baking import bake_prompt
    from runtime.bitnet.trainable import to_float

    model, tokenizer, cost = ternary
    model = copy.deepcopy(model)
    to_float(model)
    cfg = BakeConfig(steps=3, trajectories=4, trajectory_tokens=12, batch_size=2)
    prompt, queries, held = "Be brief.", ["1+2=<|sep|>"] * 4, ["3+4=<|sep|>"] * 2
    real = counted(bake_prompt, model, tokenizer, prompt, queries, cfg, device="cpu", seed=0,
                   heldout_queries=held)
    query = len(tokenizer(queries[0]).input_ids)
    prompt_tokens = len(tokenizer(f"{prompt} {queries[0]}").input_ids) - query
    form = bc.Form.of(cost, ternary=True)
    work = pass_cost.Work()
    qc.bake(work, cost, cfg, prompt_tokens, query, extra=form.as_float,
            train_extra=form.training, heldout=len(held))
    assert work.ops == pytest.approx(real, rel=0.15)


def test_the_largest_thought_batch_is_planned_within_10_percent():
    """Rows x width of the largest batch tiny's thought training forms (seed 1234: 88 x 34
    tokens, about 1.3 times the mean batch's rows), from the suite's length table."""
    from runtime.data import build_tokenizer
    from runtime.phases.quietstar.data import thought_batches
    from runtime.phases.quietstar.kernel import phase_seed
    from runtime.thoughts.objective import sequence_lengths

    params = QuietStarParams(thought_tokens=4, thoughts_per_position=2, steps=6, batch_size=2,
                             seq_len=32, levels=[1, 2])
    tokenizer = build_tokenizer(512, 1234)  # tiny's, as its cognate phase builds it
    stream = thought_batches(params, tokenizer, phase_seed(1234, "thoughts"))  # as the kernel
    sizes = []
    for step in range(params.steps):
        ids, _ = stream(step)
        lengths = sequence_lengths(ids, tokenizer.pad_token_id)
        rows = params.thoughts_per_position * sum(n - 1 for n in lengths)
        sizes.append((rows * (max(lengths) + params.thought_tokens + 2), rows))
    rows, width = qc.largest_batch(params, 512)
    assert rows * width == pytest.approx(max(sizes)[0], rel=0.10)
