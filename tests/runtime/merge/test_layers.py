"""FrankenMerge and DFS on Llama, GPT-2 and Cognate: depth, loading, generation, identities."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaForCausalLM

import runtime.nn  # noqa: F401  (registers the Cognate model with the Auto classes)
from runtime.merge import MergeRequest, layer_count, merge_directories, merge_models
from tests.runtime.merge.tiny_models import llama_config, logits, save_all

IDS = torch.tensor([[1, 5, 7, 9, 11, 3]])


@pytest.fixture(params=["llamas", "gpt2s", "cognates"])
def family(request):
    """Each architecture's fine-tunes."""
    return request.getfixturevalue(request.param)


def test_frankenmerge_changes_depth_and_copies_layers(family):
    a, b = family[:2]
    req = MergeRequest("frankenmerge", slices=((0, 0, 2), (1, 1, 2), (0, 1, 2)))
    merged = merge_models(req, [a, b])
    assert layer_count(merged) == 4 and layer_count(a) in (2, 3)
    sources = [(a, 0), (a, 1), (b, 1), (a, 1)]
    for i, (model, layer) in enumerate(sources):
        got, want = _layer(merged, i), _layer(model, layer)
        assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in got)


def _layer(model, i: int) -> dict:
    """suffix -> tensor of layer ``i``."""
    from runtime.merge import architecture_of

    state = model.state_dict()
    arch = architecture_of(state)
    return {s[1]: v for k, v in state.items() if (s := arch.split(k)) and s[0] == i}


def test_layer_merges_save_load_and_generate(family, tmp_path):
    dirs = save_all(family[:2], tmp_path, "in")
    out = merge_directories(MergeRequest("dfs", path=((0, 0), (1, 1), (1, 0), (0, 1)),
                                         scales=(1.0, 0.5, 0.8, 1.0)), dirs, tmp_path / "dfs")
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    assert layer_count(model) == 4
    expected = merge_models(MergeRequest("dfs", path=((0, 0), (1, 1), (1, 0), (0, 1)),
                                         scales=(1.0, 0.5, 0.8, 1.0)), family[:2])
    torch.testing.assert_close(logits(model, IDS), logits(expected, IDS), rtol=0, atol=0)
    generated = model.generate(IDS, max_new_tokens=2, do_sample=False)
    assert generated.shape == (1, IDS.shape[1] + 2)


def test_dfs_identity_path_reproduces_the_first_model(family):
    a = family[0]
    path = tuple((0, i) for i in range(layer_count(a)))
    merged = merge_models(MergeRequest("dfs", path=path), family)
    assert torch.equal(logits(merged, IDS), logits(a, IDS))


def test_dfs_scale_zero_makes_a_layer_the_identity(family):
    a = family[0]
    n = layer_count(a)
    scaled = merge_models(MergeRequest("dfs", path=tuple((0, i) for i in range(n)),
                                       scales=(1.0,) * (n - 1) + (0.0,)), [a])
    shorter = merge_models(MergeRequest("frankenmerge", slices=((0, 0, n - 1),)), [a])
    torch.testing.assert_close(logits(scaled, IDS), logits(shorter, IDS), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(logits(scaled, IDS), logits(a, IDS), atol=1e-4)


def test_layer_methods_reject_bad_paths(llamas):
    with pytest.raises(ValueError, match="needs `slices`"):
        merge_models(MergeRequest("frankenmerge"), llamas)
    with pytest.raises(ValueError, match="out of range"):
        merge_models(MergeRequest("frankenmerge", slices=((0, 2, 9),)), llamas)
    with pytest.raises(ValueError, match="2 scales for a path of 1"):
        merge_models(MergeRequest("dfs", path=((0, 0),), scales=(1.0, 1.0)), llamas)
    with pytest.raises(ValueError, match="model index 5"):
        merge_models(MergeRequest("dfs", path=((5, 0),)), llamas)


def test_other_architectures_and_widths_are_refused(llamas, gpt2s):
    with pytest.raises(ValueError, match="llama-style"):
        merge_models(MergeRequest("dfs", path=((1, 0),)), [llamas[0], gpt2s[0]])
    wide = LlamaForCausalLM(llama_config(hidden_size=48)).eval()
    with pytest.raises(ValueError, match="must share widths"):
        merge_models(MergeRequest("dfs", path=((0, 0), (1, 0))), [llamas[0], wide])
