"""What mergekit users expect: incompatible configs refused, output dtype, shards, tokenizer."""

from __future__ import annotations

import copy
import json
import warnings

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, LlamaForCausalLM, MistralConfig, MistralForCausalLM

from runtime.artifacts import hash_directory, safetensors_params
from runtime.kernels import ForgeWarning
from runtime.merge import MergeRequest, merge_directories, merge_models
from runtime.merge.checkpoint_io import parse_size, shard_plan
from runtime.merge.compat import config_differences
from runtime.phases.toolkit.inputs import load_model
from tests.runtime.merge.tiny_models import llama_config, save_all, save_tokenizer, state_equal

LINEAR = MergeRequest("linear")


def _mistral_like(llama):
    """A Mistral with the Llama's shapes and tensor names (and its weights)."""
    c = llama.config
    config = MistralConfig(vocab_size=c.vocab_size, hidden_size=c.hidden_size,
                           intermediate_size=c.intermediate_size,
                           num_hidden_layers=c.num_hidden_layers,
                           num_attention_heads=c.num_attention_heads,
                           num_key_value_heads=c.num_key_value_heads, head_dim=c.head_dim,
                           max_position_embeddings=64, tie_word_embeddings=False)
    model = MistralForCausalLM(config).eval()
    model.load_state_dict(llama.state_dict())
    return model


def test_llama_and_mistral_with_equal_shapes_are_refused(llamas, tmp_path):
    mistral = _mistral_like(llamas[1])
    with pytest.raises(ValueError, match="model_type: model 0 = 'llama', model 1 = 'mistral'"):
        merge_models(LINEAR, [llamas[0], mistral])
    dirs = save_all([llamas[0], mistral], tmp_path, "m")
    with pytest.raises(ValueError, match="allow_config_mismatch") as err:
        merge_directories(LINEAR, dirs, tmp_path / "out")
    assert "architectures" in str(err.value) and "model_type" in str(err.value)
    assert not (tmp_path / "out").exists()
    # the explicit override merges, with the first input's config
    out = merge_directories(MergeRequest("linear", allow_config_mismatch=True), dirs,
                            tmp_path / "out")
    assert json.loads((out / "config.json").read_text())["model_type"] == "llama"


def test_a_different_rope_theta_is_refused_and_named(llamas, tmp_path):
    other = LlamaForCausalLM(llama_config()).eval()
    other.config.rope_theta = 1e6
    other.load_state_dict(llamas[1].state_dict())
    dirs = save_all([llamas[0], other], tmp_path, "r")
    assert set(config_differences([json.loads((d / "config.json").read_text())
                                   for d in dirs])) == {"rope_theta"}
    with pytest.raises(ValueError, match="rope_theta"):
        merge_directories(MergeRequest("ties", {"density": 0.5}, base="first"), dirs,
                          tmp_path / "out")
    with pytest.raises(ValueError, match="rope_theta"):
        merge_models(MergeRequest("frankenmerge", slices=((0, 0, 2), (1, 1, 3))),
                     [llamas[0], other])


def test_function_neutral_fields_and_depth_of_layer_merges_are_allowed():
    a = {"model_type": "llama", "rope_theta": 1e4, "_name_or_path": "a", "use_cache": True,
         "num_hidden_layers": 3, "architectures": ["LlamaForCausalLM"]}
    b = {**a, "_name_or_path": "b", "use_cache": False, "num_hidden_layers": 5,
         "architectures": None}
    assert config_differences([a, b], same_depth=False) == {}
    assert set(config_differences([a, b])) == {"num_hidden_layers"}
    assert set(config_differences([a, {**a, "rope_scaling": {"type": "linear", "factor": 2}}])) \
        == {"rope_scaling"}


def test_rope_settings_in_transformers_5_form_are_compared(llamas):
    from transformers import LlamaConfig

    diffs = config_differences([LlamaConfig().to_dict(), LlamaConfig(rope_theta=1e6).to_dict()])
    assert list(diffs) == ["rope_parameters"] and diffs["rope_parameters"][1]["rope_theta"] == 1e6
    rope = {"rope_theta": 1e6, "rope_type": "default"}
    other = LlamaForCausalLM(LlamaConfig(**{**llama_config().to_dict(), "rope_parameters": rope}))
    other.load_state_dict(llamas[1].state_dict())
    with pytest.raises(ValueError, match="rope_parameters: model 0 = .*model 1 = .*1000000"):
        merge_models(LINEAR, [llamas[0], other.eval()])


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32"])
def test_output_dtype_choice(llamas, llama_dirs, tmp_path, dtype):
    req = MergeRequest("ties", {"density": 0.5}, base="first", dtype=dtype)
    out = merge_directories(req, llama_dirs, tmp_path / "out")
    tensors = load_file(out / "model.safetensors")
    assert {t.dtype for t in tensors.values()} == {getattr(torch, dtype)}
    assert json.loads((out / "config.json").read_text())["dtype"] == dtype
    loaded = AutoModelForCausalLM.from_pretrained(out)
    in_memory = merge_models(req, llamas)
    assert in_memory.dtype == getattr(torch, dtype)
    assert state_equal(loaded.to(in_memory.dtype), in_memory)


def test_default_dtype_is_the_first_inputs(llamas, tmp_path):
    half = LlamaForCausalLM(llamas[0].config).to(torch.bfloat16)
    half.load_state_dict(llamas[0].state_dict())
    dirs = save_all([half, llamas[1]], tmp_path, "h")
    out = merge_directories(LINEAR, dirs, tmp_path / "out")
    assert {t.dtype for t in load_file(out / "model.safetensors").values()} == {torch.bfloat16}


def test_large_outputs_are_sharded_like_transformers(llamas, llama_dirs, tmp_path):
    req = MergeRequest("linear", weights=(0.2, 0.5, 0.3))
    out = merge_directories(req, llama_dirs, tmp_path / "out", max_shard_size="20KB")
    shards = sorted(p.name for p in out.glob("model-*-of-*.safetensors"))
    assert len(shards) > 2 and not (out / "model.safetensors").exists()
    assert shards[0] == f"model-00001-of-{len(shards):05d}.safetensors"
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == set(shards)
    sizes = sum((out / s).stat().st_size for s in shards)
    assert index["metadata"]["total_size"] < sizes  # data bytes, without the headers
    assert state_equal(AutoModelForCausalLM.from_pretrained(out), merge_models(req, llamas))
    # the rest of the runtime reads a sharded directory
    n_params = sum(t.numel() for t in llamas[0].state_dict().values())
    assert safetensors_params(out) == n_params
    assert state_equal(load_model(out, "cpu"), merge_models(req, llamas))
    # a later unsharded merge into the same directory leaves no stale shard or index
    merge_directories(req, llama_dirs, out)
    assert sorted(p.name for p in out.glob("*.safetensors*")) == ["model.safetensors"]
    assert hash_directory(out) == hash_directory(merge_directories(req, llama_dirs,
                                                                   tmp_path / "again"))


def test_shard_plan_and_sizes():
    from runtime.merge.checkpoint_io import TensorSpec

    specs = {"a": TensorSpec("F32", (10,)), "b": TensorSpec("F32", (30,)),
             "c": TensorSpec("F32", (5,)), "d": TensorSpec("F32", (5,))}
    assert [list(s) for s in shard_plan(specs, 80)] == [["a"], ["b"], ["c", "d"]]
    assert parse_size("5GB") == 5 * 10**9 and parse_size("2MiB") == 2 * 2**20
    assert parse_size(123) == 123
    with pytest.raises(ValueError, match="max_shard_size"):
        parse_size("lots")


def test_tokenizer_only_on_a_later_input_is_copied_with_a_warning(llamas, tmp_path):
    dirs = [tmp_path / "bare", tmp_path / "tok"]
    llamas[0].save_pretrained(dirs[0])
    llamas[1].save_pretrained(dirs[1])
    save_tokenizer(dirs[1])
    with pytest.warns(ForgeWarning, match="input 0 .* has no tokenizer"):
        out = merge_directories(LINEAR, dirs, tmp_path / "out")
    assert (out / "tokenizer.json").read_bytes() == (dirs[1] / "tokenizer.json").read_bytes()


def test_first_inputs_tokenizer_is_kept_without_a_warning(llamas, tmp_path):
    dirs = save_all(llamas[:2], tmp_path, "t")
    (dirs[0] / "tokenizer.json").write_text((dirs[0] / "tokenizer.json").read_text()
                                            .replace('"w5"', '"first5"'))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ForgeWarning)
        out = merge_directories(LINEAR, dirs, tmp_path / "out")
    assert "first5" in (out / "tokenizer.json").read_text()


def test_request_options_round_trip_and_refuse_bad_values(llama_dirs, tmp_path):
    req = MergeRequest("linear", dtype="bfloat16", allow_config_mismatch=True)
    assert MergeRequest.from_json(req.to_json()) == req
    assert "dtype" not in LINEAR.to_json()  # defaults keep older stored JSON unchanged
    with pytest.raises(ValueError, match="dtype must be one of"):
        MergeRequest("linear", dtype="int8")
    with pytest.raises(ValueError, match="one of the inputs"):
        merge_directories(LINEAR, llama_dirs[:2], llama_dirs[1])


def test_recipe_merge_options_reach_the_request():
    from forgelang.kinds.evomerge import EvoMergeParams
    from runtime.phases.evomerge.single import merge_request

    params = EvoMergeParams.model_validate(
        {"mode": "merge", "merge": {"technique": "linear", "dtype": "bfloat16",
                                    "allow_config_mismatch": True}})
    req = merge_request(params, 2, seed=0)
    assert req.dtype == "bfloat16" and req.allow_config_mismatch
    assert merge_request(EvoMergeParams(mode="merge"), 2, seed=0).dtype == "first"



def test_evolve_mode_refuses_mismatched_configs_before_searching(tmp_path):
    from forgelang.kinds.evomerge import EvoMergeParams
    from runtime.phases.evomerge.kernel import build_evaluator
    from runtime.phases.toolkit.inputs import LoadedInputs
    from tests.runtime.phases.kernel_inputs import llama_input, phase_context, suite_tokenizer

    model = load_model(llama_input(tmp_path / "a").path, "cpu")
    other = type(model)(model.config)
    other.config = copy.deepcopy(model.config)
    other.config.rope_theta = 1e6
    other.load_state_dict(model.state_dict())
    loaded = LoadedInputs([model, other.eval()], suite_tokenizer())
    ctx = phase_context(tmp_path, "evomerge")
    small = {"eval": {"examples": 2}, "population": 2, "elitism": 0, "tournament_size": 2}
    with pytest.raises(ValueError, match="rope_theta"):
        build_evaluator(ctx, EvoMergeParams.model_validate(small), loaded)
    allowed = EvoMergeParams.model_validate({**small, "merge": {"allow_config_mismatch": True}})
    evaluator = build_evaluator(ctx, allowed, loaded)
    assert evaluator.allow_config_mismatch
