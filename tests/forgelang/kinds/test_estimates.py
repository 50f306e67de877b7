"""Estimates: positive, monotone in work and size, chained ModelSpecs, and the 6 GiB budget."""

import math

import pytest

from forgelang.devices import BUILTIN, GiB
from forgelang.kinds import KINDS
from forgelang.kinds.base import EstimateContext
from forgelang.kinds.cognate import output_spec
from forgelang.kinds.cognate_arch import arch_from, count_parameters
from forgelang.kinds.costs import cost_of

GTX = BUILTIN["gtx1660"]
CPU = BUILTIN["cpu"]
ORDER = ["cognate", "evomerge", "quietstar", "bitnet", "curriculum", "baking", "experts",
         "compression"]
# the kind's main work-size knob, for the monotonicity check
WORK = {"cognate": {"steps": 2000}, "evomerge": {"generations": 100},
        "quietstar": {"steps": 1000}, "bitnet": {"steps": 1000},
        "curriculum": {"questions": 40_000}, "baking": {"max_iterations": 20},
        "experts": {"nsga2": {"evaluations": 10_000}},
        "compression": {"stages": [{"type": "seedlm", "seed_bits": 20}]}}  # stages that run


def estimate(name, data=None, inputs=(), device=CPU):
    kind = KINDS.get(name)
    return kind.estimate(kind.params.model_validate(data or {}), EstimateContext(device, inputs))


def pipeline(arch="smoke", device=CPU):
    """Chain all eight defaults; each phase gets the previous phase's outputs."""
    inputs, out = (), {}
    for name in ORDER:
        data = {"architecture": arch} if name == "cognate" else {}
        out[name] = estimate(name, data, inputs, device)
        inputs = out[name].outputs
    return out


@pytest.mark.parametrize("arch", ["smoke", "tiny", "full"])
def test_every_estimate_is_positive_and_finite(arch):
    for name, e in pipeline(arch).items():
        for value in (e.flops, e.seconds, e.peak_memory_bytes, e.disk_bytes, e.params):
            assert value > 0 and math.isfinite(value), (name, value)
        compute = e.flops / CPU.flops_per_second
        assert e.outputs
        if name == "cognate":  # training also pays a fixed cost per tensor op
            assert e.seconds > compute * 1.01
        else:  # the other kernels count their passes' tensor ops too
            assert e.seconds > compute


def test_params_flow_unchanged_and_bits_drop_at_bitnet():
    est = pipeline("tiny")
    n = count_parameters("tiny")
    assert all(e.params == n for e in est.values())
    assert len(est["cognate"].outputs) == 3
    assert est["evomerge"].outputs[0].bits_per_param == 32.0
    bits = est["bitnet"].outputs[0].bits_per_param
    assert 1.6 < bits < 8  # packed matrices at 1.6 bits, embeddings and norms at 32
    assert est["bitnet"].disk_bytes < est["evomerge"].disk_bytes / 4
    assert est["curriculum"].outputs[0].bits_per_param == bits


def test_packing_2bit_stores_more_than_base3():
    spec = output_spec(arch_from("tiny"))
    b3 = estimate("bitnet", {"packing": "base3"}, (spec,)).outputs[0]
    b2 = estimate("bitnet", {"packing": "2bit"}, (spec,)).outputs[0]
    assert b2.disk_bytes > b3.disk_bytes


@pytest.mark.parametrize("name", ORDER)
def test_more_work_costs_more(name):
    spec = output_spec(arch_from("tiny"))
    inputs = () if name == "cognate" else (spec,)
    small, big = estimate(name, {}, inputs), estimate(name, WORK[name], inputs)
    assert big.flops > small.flops and big.seconds > small.seconds


@pytest.mark.parametrize("name", ORDER[1:])
def test_bigger_model_costs_more(name):
    small = estimate(name, {}, (output_spec(arch_from("smoke")),))
    big = estimate(name, {}, (output_spec(arch_from("tiny")),))
    assert big.flops > small.flops
    assert big.peak_memory_bytes > small.peak_memory_bytes
    assert big.disk_bytes > small.disk_bytes


def test_cognate_flops_follow_the_recursion_count():
    base = {"architecture": {"type": "trm_titans_mag", "d_model": 64, "n_heads": 4}}
    deeper = {"architecture": {**base["architecture"], "n_cycles": 6}}
    e1, e2 = estimate("cognate", base), estimate("cognate", deeper)
    assert e2.flops > 1.5 * e1.flops  # T 3 -> 6 doubles the no-grad forward cycles
    # training FLOPs are at least 6 N per token per block-stack application back-propagated
    cost = cost_of(output_spec(arch_from(base["architecture"])))
    p = KINDS.get("cognate").params.model_validate(base)
    tokens = (p.pretrain_steps + 3 * p.steps) * p.batch_size * p.seq_len
    assert e1.flops > tokens * 6 * cost.layer_params * cost.n_layers * cost.backprop_recursions


def test_cognate_25m_fits_a_gtx1660_with_a_sensible_batch():
    for batch, seq in [(2, 256), (4, 128)]:
        e = estimate("cognate", {"architecture": "full", "batch_size": batch, "seq_len": seq},
                     device=GTX)
        assert 1 * GiB < e.peak_memory_bytes < 6 * GiB, (batch, seq, e.peak_memory_bytes)
        assert e.params == 24_137_741
    too_big = estimate("cognate", {"architecture": "full", "batch_size": 16, "seq_len": 256},
                       device=GTX)
    assert too_big.peak_memory_bytes > 6 * GiB


def test_cognate_disk_is_fp32_weights_of_every_model():
    e = estimate("cognate", {"architecture": "smoke"})
    assert e.disk_bytes == 3 * e.outputs[0].disk_bytes
    assert e.outputs[0].disk_bytes >= 4 * count_parameters("smoke")


def test_faster_device_takes_less_time():
    slow = estimate("cognate", {"architecture": "tiny"}, device=CPU)
    fast = estimate("cognate", {"architecture": "tiny"}, device=BUILTIN["h100"])
    assert fast.seconds < slow.seconds and fast.flops == slow.flops


def test_small_models_are_charged_per_op_not_only_per_flop():
    """A tiny model on a big GPU is bound by its ops (measured on an H200: the tiny cognate
    phase took 62 s where its FLOPs alone would take under 5 s)."""
    e = estimate("cognate", {"architecture": "tiny"}, device=BUILTIN["h100"])
    assert e.seconds > 10 * e.flops / BUILTIN["h100"].flops_per_second


def test_merge_mode_is_far_cheaper_than_evolution():
    spec = output_spec(arch_from("smoke"))
    evolve = estimate("evomerge", {}, (spec,) * 3)
    merge = estimate("evomerge", {"mode": "merge"}, (spec,) * 3)
    # merge mode measures the output and the 3 inputs; evolution 394 candidates + 3 inputs
    assert merge.flops * 50 < evolve.flops
    assert merge.seconds * 50 < evolve.seconds


def test_compression_stores_the_last_stage_bits():
    spec = output_spec(arch_from("tiny"))
    seed = estimate("compression", {"stages": ["seedlm"]}, (spec,))
    hyper = estimate("compression", {"stages": ["hyper"]}, (spec,))
    assert seed.disk_bytes < hyper.disk_bytes < spec.disk_bytes  # 4 < 6.5 < 32 bits


def test_estimates_need_an_input_model():
    with pytest.raises(ValueError, match="needs an input model"):
        estimate("bitnet")


def test_users_own_model_uses_its_config_shapes():
    from forgelang.kinds.base import ModelSpec

    arch = (("hidden_size", 256), ("model_type", "llama"), ("num_hidden_layers", 4),
            ("vocab_size", 1000))
    spec = ModelSpec(params=3_400_000, bits_per_param=16.0, architecture=arch)
    cost = cost_of(spec)
    assert (cost.d_model, cost.n_layers, cost.vocab_size, cost.recursions) == (256, 4, 1000, 1)
    e = estimate("bitnet", {}, (spec,))
    assert e.outputs[0].bits_per_param < 16.0
    bare = cost_of(ModelSpec(params=3_400_000))  # no config.json: shapes guessed
    assert bare.d_model > 0 and bare.matrix_params < bare.params


def test_cognate_prices_each_specialist_on_its_own_mix():
    """Memory examples (recall, copy) are shorter than reasoning ones at levels 1-2, so a
    memory specialist's stage costs less; priced at one shared length they would be equal."""
    def flops(role):
        return estimate("cognate", {"architecture": "tiny", "models": 1, "roles": [role],
                                    "levels": [1, 2], "merge_check": False}).flops

    assert flops("memory") < 0.95 * flops("reasoning")
