"""merge_directories: streaming results equal in-memory merges, reload bit-exactly."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from runtime.merge import MergeRequest, merge_directories, merge_models
from runtime.merge.checkpoint_io import TensorSpec, write_safetensors
from tests.runtime.merge.tiny_models import gpt2_config, save_all, state_equal

REQUESTS = [
    MergeRequest("linear", weights=(0.2, 0.5, 0.3)),
    MergeRequest("task_arithmetic", {"lambda": 0.6}, base="first"),
    MergeRequest("ties", {"density": 0.3}, weights=(1.0, 0.5, 2.0)),
    MergeRequest("dare", {"drop": 0.7, "combine": "ties"}, seed=5),
    MergeRequest("dare", {"drop": 0.3}, base="first", seed=6),
    MergeRequest("frankenmerge", slices=((0, 0, 2), (2, 1, 3))),
]


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: r.technique)
def test_directory_merge_reloads_bit_exactly_as_the_in_memory_merge(request_, llamas, llama_dirs,
                                                                    tmp_path):
    out = merge_directories(request_, llama_dirs, tmp_path / "out")
    loaded = AutoModelForCausalLM.from_pretrained(out)
    assert state_equal(loaded, merge_models(request_, llamas))
    assert (out / "tokenizer.json").read_bytes() == (llama_dirs[0] / "tokenizer.json").read_bytes()


def test_slerp_directories(llamas, llama_dirs, tmp_path):
    req = MergeRequest("slerp", {"t": 0.3})
    out = merge_directories(req, llama_dirs[:2], tmp_path / "out")
    assert state_equal(AutoModelForCausalLM.from_pretrained(out), merge_models(req, llamas[:2]))


def test_tied_cognate_directory_merge(cognates, tmp_path):
    dirs = save_all(cognates, tmp_path, "cog")
    req = MergeRequest("dare", {"drop": 0.5}, seed=1)
    out = merge_directories(req, dirs, tmp_path / "out")
    loaded = AutoModelForCausalLM.from_pretrained(out)
    assert state_equal(loaded, merge_models(req, cognates))
    assert json.loads((out / "config.json").read_text())["model_type"] == "trm_titans_mag"


def test_frankenmerge_directory_config_depth(llama_dirs, tmp_path):
    out = merge_directories(MergeRequest("frankenmerge", slices=((0, 0, 3), (1, 0, 3))),
                            llama_dirs, tmp_path / "out")
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 6
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert {k for k in f.keys() if k.startswith("model.layers.5.")}


def test_mismatched_directories_are_refused(llama_dirs, tmp_path):
    from transformers import GPT2LMHeadModel

    gpt = save_all([GPT2LMHeadModel(gpt2_config())], tmp_path, "gpt")
    with pytest.raises(ValueError, match="different tensors"):
        merge_directories(MergeRequest("linear"), [llama_dirs[0], gpt[0]], tmp_path / "out")
    with pytest.raises(ValueError, match="no config.json"):
        merge_directories(MergeRequest("linear"), [llama_dirs[0], tmp_path], tmp_path / "out")


def test_streaming_writer_round_trips_every_dtype(tmp_path):
    tensors = {"a": torch.randn(3, 5), "b": torch.randn(7).to(torch.bfloat16),
               "c": torch.tensor(2.5, dtype=torch.float64), "d": torch.arange(6).reshape(2, 3),
               "e": torch.randn(1, 3).half(), "f": torch.tensor([True, False])}
    specs = {k: TensorSpec({torch.float32: "F32", torch.bfloat16: "BF16", torch.float64: "F64",
                            torch.int64: "I64", torch.float16: "F16", torch.bool: "BOOL"}[v.dtype],
                           tuple(v.shape)) for k, v in tensors.items()}
    write_safetensors(tmp_path / "x.safetensors", specs, iter(tensors.items()))
    back = load_file(tmp_path / "x.safetensors")
    assert back.keys() == tensors.keys()
    assert all(torch.equal(back[k], v) and back[k].dtype == v.dtype for k, v in tensors.items())
    with pytest.raises(RuntimeError, match="expected"):
        write_safetensors(tmp_path / "y.safetensors", specs, iter(reversed(tensors.items())))
