"""Cognate stage checkpoints: a partial checkpoint resumes; a stale one is set aside."""

import pytest
import torch

from runtime.nn import TrmTitansMagForCausalLM, preset_config
from runtime.optim import MuGrokfast
from runtime.phases.cognate_checkpoint import load_partial, partial_path, save_partial


def _model_and_optimizer(seed: int = 0):
    torch.manual_seed(seed)
    model = TrmTitansMagForCausalLM(preset_config("smoke"))
    return model, MuGrokfast.from_config(model, {"muon_lr": 0.02, "adam_lr": 1e-2})


def test_partial_checkpoint_resumes_weights_and_step(tmp_path):
    model, optimizer = _model_and_optimizer(seed=1)
    save_partial(tmp_path, "specialist0", model, optimizer, step=7)
    fresh, fresh_optimizer = _model_and_optimizer(seed=2)
    assert load_partial(tmp_path, "specialist0", fresh, fresh_optimizer) == 7
    assert torch.equal(fresh.lm_head.weight, model.lm_head.weight)


def test_a_partial_checkpoint_of_another_optimiser_layout_restarts_the_stage(tmp_path):
    old_model, _ = _model_and_optimizer(seed=1)
    # one parameter group for everything: what no MuGrokfast of this code writes
    old_optimizer = torch.optim.AdamW(old_model.parameters())
    save_partial(tmp_path, "specialist1", old_model, old_optimizer, step=5)
    model, optimizer = _model_and_optimizer(seed=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.warns(UserWarning, match="specialist1 restarts from its first step"):
        assert load_partial(tmp_path, "specialist1", model, optimizer) == 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not partial_path(tmp_path, "specialist1").exists()
    assert (tmp_path / "specialist1.partial.stale.pt").exists()  # set aside, not deleted
