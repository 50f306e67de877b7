"""transformers integration: Auto classes, safetensors round-trip, generate()."""

import json

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from runtime.nn import MODEL_TYPE, TrmTitansMagForCausalLM


def test_round_trip_is_bit_exact(make_model, tmp_path):
    model = make_model(seed=5)
    with torch.no_grad():  # make the tied head and the norms differ from their init
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == MODEL_TYPE
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert type(loaded) is TrmTitansMagForCausalLM
    assert loaded.lm_head.weight is loaded.embed_tokens.weight
    mine, theirs = model.state_dict(), loaded.state_dict()
    assert mine.keys() == theirs.keys()
    for name in mine:
        assert torch.equal(mine[name], theirs[name]), name
    ids = torch.randint(3, 64, (2, 12))
    with torch.no_grad():
        assert torch.equal(model(ids).logits, loaded(ids).logits)


def test_untied_head_round_trips(make_model, tmp_path):
    model = make_model(tie_embeddings=False)
    model.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert loaded.lm_head.weight is not loaded.embed_tokens.weight
    assert torch.equal(loaded.lm_head.weight, model.lm_head.weight)


def test_auto_config_knows_the_model_type(small_config, tmp_path):
    small_config(window=7).save_pretrained(tmp_path)
    config = AutoConfig.from_pretrained(tmp_path)
    assert config.model_type == MODEL_TYPE and config.window == 7
    assert config.hidden_size == config.d_model and config.tie_word_embeddings is True


def test_greedy_generate_matches_argmax_loop(make_model):
    model = make_model(seed=1)
    prompt = torch.randint(3, 64, (2, 6), generator=torch.Generator().manual_seed(0))
    out = model.generate(prompt, max_new_tokens=5, do_sample=False, eos_token_id=None,
                         pad_token_id=0)
    assert out.shape == (2, 11) and torch.equal(out[:, :6], prompt)
    ids = prompt
    with torch.no_grad():
        for _ in range(5):
            ids = torch.cat([ids, model(ids).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, ids)


def test_left_padded_generate_runs(make_model):
    model = make_model(seed=1)
    prompt = torch.tensor([[0, 0, 5, 6, 7], [4, 5, 6, 7, 8]])
    mask = (prompt != 0).long()
    out = model.generate(prompt, attention_mask=mask, max_new_tokens=3, do_sample=False,
                         eos_token_id=None, pad_token_id=0)
    assert out.shape == (2, 8)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu_and_generates(make_model):
    model = make_model(seed=2)
    ids = torch.randint(3, 64, (2, 16))
    with torch.no_grad():
        cpu = model(ids).logits
        gpu = model.cuda()(ids.cuda()).logits.cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-3, atol=1e-3)
    out = model.generate(ids[:, :4].cuda(), max_new_tokens=3, do_sample=False, pad_token_id=0)
    assert out.shape == (2, 7)
