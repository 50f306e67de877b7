"""Experts saved beside a model (safetensors + JSON), checked on load, and selected per
prompt by ``ExpertRouter``."""

from __future__ import annotations

import json

import pytest
import torch

from runtime.svf import ExpertRouter, load_experts, save_experts
from runtime.svf.decompose import decompose, target_matrices, weights_for
from runtime.svf.store import expert_set
from tests.runtime.phases.kernel_inputs import INPUTS, suite_tokenizer

SKILLS = ["arithmetic", "recall", "tool_use"]


@pytest.fixture()
def saved(tmp_path):
    """A Llama dir with two experts (random z) beside it; the stored mix is expert 0."""
    from runtime.phases.toolkit.inputs import load_model

    path = INPUTS["llama"](tmp_path / "m").path
    model = load_model(path, "cpu")
    names = target_matrices(model, ["attention", "mlp"])
    base = {n: model.get_submodule(n).weight.detach().clone() for n in names}
    factors = decompose(model, names)
    torch.manual_seed(0)
    z = [{n: 1 + 0.3 * torch.randn_like(f.sigma) for n, f in factors.items()} for _ in range(2)]
    save_experts(path, expert_set(SKILLS[:2], z, base, SKILLS, {"weights": [1.0, 0.0]}))
    return path, factors, z, base


def test_round_trip(saved):
    path, _, z, base = saved
    experts = load_experts(path)
    assert experts.skills == SKILLS[:2] and experts.classifier_skills == SKILLS
    for k in range(2):
        for name in z[k]:
            assert torch.equal(experts.z[k][name], z[k][name])
    assert all(torch.equal(experts.base[n], base[n]) for n in base)


@pytest.mark.parametrize("damage", ["z.safetensors", "base.safetensors", "experts.json"])
def test_a_damaged_file_is_a_value_error_naming_it(saved, damage):
    path = saved[0]
    target = path / "experts" / damage
    target.write_bytes(target.read_bytes()[:-7])
    with pytest.raises(ValueError, match=damage.replace(".", r"\.")):
        load_experts(path)


def test_an_edited_json_that_does_not_fit_is_refused(saved):
    path = saved[0]
    info = json.loads((path / "experts" / "experts.json").read_text())
    info["skills"].append("persona")  # a third expert with no z vectors
    (path / "experts" / "experts.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="z.safetensors"):
        load_experts(path)


def test_the_router_applies_an_expert_and_puts_the_weights_back(saved):
    from runtime.phases.toolkit.inputs import load_model

    path, factors, z, base = saved
    model = load_model(path, "cpu")
    router = ExpertRouter(model, suite_tokenizer(), path)
    name = next(iter(base))
    before = model.get_submodule(name).weight.detach().clone()
    with router.applied("recall"):
        expected = weights_for(factors, z[1])[name]
        assert torch.allclose(model.get_submodule(name).weight, expected, atol=1e-5)
    assert torch.equal(model.get_submodule(name).weight, before)
    with router.applied(None):
        assert torch.equal(model.get_submodule(name).weight, base[name])
    with router.applied("mix"):  # weights [1, 0]: expert 0
        assert torch.allclose(model.get_submodule(name).weight,
                              weights_for(factors, z[0])[name], atol=1e-5)
    with pytest.raises(ValueError, match="persona"):
        router.weights("persona")


def test_the_router_answers_each_prompt_with_the_expert_it_selects(saved, monkeypatch):
    from runtime.phases.toolkit.inputs import load_model

    path = saved[0]
    model = load_model(path, "cpu")
    router = ExpertRouter(model, suite_tokenizer(), path)
    prompts = ["What is 2 + 3?", "Remember a=4. What is a?", "Use the tool: 7*8"]
    choices = router.select(prompts)
    assert len(choices) == 3 and all(c in (None, *SKILLS[:2]) for c in choices)
    used = []
    real = router.applied

    def spy(choice):
        used.append(choice)
        return real(choice)

    monkeypatch.setattr(router, "applied", spy)
    answers = router.answer(prompts, max_new_tokens=3)
    assert len(answers) == 3 and all(isinstance(a, str) for a in answers)
    assert set(used) - {None} == set(choices) - {None}


def test_experts_that_do_not_fit_the_model_are_refused(saved, tmp_path):
    from runtime.phases.toolkit.inputs import load_model

    other = load_model(INPUTS["cognate"](tmp_path / "c").path, "cpu")
    with pytest.raises(ValueError, match="does not fit"):
        ExpertRouter(other, suite_tokenizer(), saved[0])
