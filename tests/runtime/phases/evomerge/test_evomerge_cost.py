"""The evomerge estimate counts the held-out measurement's tensor ops as the runtime runs it:
one generate() call per prompt length, a forward per step plus generate()'s own ops, and
a perplexity batch (``forgelang.kinds.evomerge_cost``), checked against counted ops."""

import pytest

from forgelang.kinds import costs, evomerge_cost, pass_cost
from forgelang.kinds.cognate_arch import arch_from
from forgelang.kinds.common import EvalConfig


@pytest.fixture(scope="module")
def smoke():
    """A smoke-sized Cognate model (random weights), the char tokenizer and its cost."""
    import torch

    import runtime.nn  # noqa: F401
    from runtime.data import build_tokenizer
    from runtime.nn import TrmTitansMagConfig, TrmTitansMagForCausalLM

    a = arch_from({"extends": "smoke"})
    torch.manual_seed(0)
    model = TrmTitansMagForCausalLM(TrmTitansMagConfig(**a.model_dump(exclude={"type"}))).eval()
    tokenizer = build_tokenizer(a.vocab_size, 0, alphabet="char", corpus_examples=200)
    cost = costs.cost_of(costs.ModelSpec(params=0, architecture=tuple(
        a.model_dump(mode="json").items())))
    return model, tokenizer, cost


def test_measurement_ops_match_counted(smoke, monkeypatch):
    """Calls within 20% of the distinct prompt lengths drawn; the ops, at the steps the
    calls really ran, within 15% of the counted ops (decoding + perplexity)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    import runtime.eval.generation as generation
    from runtime.data.formatting import format_example
    from runtime.phases.toolkit.draws import heldout_examples
    from runtime.phases.toolkit.measure import measure

    model, tokenizer, cost = smoke
    e = EvalConfig(examples=24, max_new_tokens=3, batch_size=24, levels=[1])
    heldout = heldout_examples(tokenizer, e, 7, 256)
    calls = []
    real = generation._generate_rows

    def recorded(model, rows, budget, *args):
        out = real(model, rows, budget, *args)
        calls.append(max(len(t) for t in out))
        return out

    monkeypatch.setattr(generation, "_generate_rows", recorded)

    class Count(TorchDispatchMode):
        ops = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.ops += 1
            return func(*args, **(kwargs or {}))

    with Count():
        measure(model, tokenizer, heldout, e, "cpu", answer_nll=False)
    lengths = {len(tokenizer(format_example(x)[0])["input_ids"]) for x in heldout}
    expected_calls = sum(evomerge_cost.generate_calls(m, e) for m in
                         evomerge_cost.length_mass(e.levels, cost.vocab_size).values())
    assert expected_calls == pytest.approx(len(lengths), rel=0.2)
    work = pass_cost.Work()
    steps = round(sum(calls) / len(calls))
    evomerge_cost.decode_work(work, cost, e, cost.vocab_size, steps=steps)
    evomerge_cost.nll_work(work, cost, e, cost.vocab_size)
    # scale to the calls really made: the test checks ops per call, not the draw
    per_call = work.ops / expected_calls
    assert per_call * len(calls) == pytest.approx(Count.ops, rel=0.15)


def test_evolve_measures_inputs_and_candidates():
    from forgelang.kinds.evomerge import EvoMergeParams

    spec = costs.ModelSpec(params=0, architecture=tuple(
        arch_from({"extends": "smoke"}).model_dump(mode="json").items()))
    cost = costs.cost_of(spec)
    p = EvoMergeParams(population=4, generations=2)
    work, measured = evomerge_cost.phase_work(p, spec, cost, 3)
    assert measured == p.candidates() + 3
    one = pass_cost.Work()
    evomerge_cost.heldout_work(one, cost, p.eval, cost.vocab_size, answer_nll=False)
    assert work.ops > measured * one.ops  # plus the merges
    assert work.ops < measured * one.ops * 1.05
