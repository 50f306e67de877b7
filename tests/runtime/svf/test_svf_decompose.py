"""SVF decomposition (REFERENCES.md, Transformer² SVF): z = 1 reproduces W, singular
vectors are unchanged, mixes of z vectors, target groups, gradients only to z."""

from __future__ import annotations

import pytest
import torch

from runtime.svf.decompose import (
    decompose,
    factorise,
    load_weights,
    mix,
    ones_like,
    target_matrices,
    weights_for,
)
from tests.runtime.phases.kernel_inputs import INPUTS


@pytest.fixture(scope="module", params=["cognate", "llama"])
def model(request, tmp_path_factory):
    from runtime.phases.toolkit.inputs import load_model

    source = INPUTS[request.param](tmp_path_factory.mktemp(request.param))
    return load_model(source.path, "cpu")


def test_targets_are_the_named_groups_and_never_the_head(model):
    attention = target_matrices(model, ["attention"])
    mlp = target_matrices(model, ["mlp"])
    assert attention and mlp and not set(attention) & set(mlp)
    assert all("attn" in n for n in attention) and all("mlp" in n for n in mlp)
    both = target_matrices(model, ["attention", "mlp"])
    assert set(both) == set(attention) | set(mlp)
    head = model.get_output_embeddings()
    assert all(model.get_submodule(n) is not head for n in both)


def test_z_of_ones_reproduces_every_matrix(model):
    names = target_matrices(model, ["attention", "mlp"])
    factors = decompose(model, names)
    rebuilt = weights_for(factors, ones_like(factors))
    for name in names:
        weight = model.get_submodule(name).weight.detach()
        assert torch.allclose(rebuilt[name], weight, atol=1e-5, rtol=1e-4), name


def test_z_scales_singular_values_and_keeps_singular_vectors(model):
    name = target_matrices(model, ["mlp"])[0]
    f = factorise(model.get_submodule(name).weight)
    z = torch.linspace(0.5, 1.5, len(f.sigma))
    rebuilt = f.rebuild(z)
    # U^T W' V = diag(sigma * z): same singular vectors, scaled singular values
    core = f.u.T @ rebuilt @ f.vh.T
    assert torch.allclose(core, torch.diag(f.sigma * z), atol=1e-4)


def test_mix_weights_zero_is_the_base_and_one_hot_is_that_expert():
    a = {"w": torch.tensor([1.5, 0.5])}
    b = {"w": torch.tensor([0.2, 2.0])}
    assert torch.equal(mix([a, b], [0.0, 0.0], ["w"])["w"], torch.ones(2))
    assert torch.allclose(mix([a, b], [1.0, 0.0], ["w"])["w"], a["w"])
    assert torch.allclose(mix([a, b], [0.0, 1.0], ["w"])["w"], b["w"])
    # weights summing to 1: the paper's sum_k alpha_k z_k
    assert torch.allclose(mix([a, b], [0.25, 0.75], ["w"])["w"], 0.25 * a["w"] + 0.75 * b["w"])
    with pytest.raises(ValueError):
        mix([a, b], [1.0], ["w"])


def test_load_weights_writes_in_place(model):
    name = target_matrices(model, ["attention"])[0]
    before = model.get_submodule(name).weight.detach().clone()
    load_weights(model, {name: before * 2})
    assert torch.equal(model.get_submodule(name).weight, before * 2)
    load_weights(model, {name: before})


def test_a_group_the_model_lacks_is_refused(tmp_path):
    from runtime.phases.toolkit.inputs import load_model

    llama = load_model(INPUTS["llama"](tmp_path).path, "cpu")
    with pytest.raises(ValueError, match="memory"):
        target_matrices(llama, ["memory"])
