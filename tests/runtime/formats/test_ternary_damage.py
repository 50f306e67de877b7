"""A damaged ``forge_ternary`` directory is refused on load, naming the file."""

from __future__ import annotations

import json
import struct

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

from runtime.formats.ternary import save_ternary

LAYER = "model.layers.0.mlp.up_proj"


def _stored(tmp_path, packing="base3"):
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=64, mlp_bias=True)
    save_ternary(LlamaForCausalLM(config), None, tmp_path / "t", packing=packing)
    return tmp_path / "t" / "model.safetensors"


def _rewrite(path, edit):
    tensors = load_file(str(path))
    edit(tensors)
    save_file(tensors, str(path), metadata={"format": "pt"})


def _refused(path, match):
    with pytest.raises(ValueError, match=match) as err:
        AutoModelForCausalLM.from_pretrained(path.parent)
    assert str(path) in str(err.value)


def test_an_intact_directory_loads(tmp_path):
    path = _stored(tmp_path)
    assert AutoModelForCausalLM.from_pretrained(path.parent) is not None


def test_a_truncated_file_is_refused(tmp_path):
    path = _stored(tmp_path)
    path.write_bytes(path.read_bytes()[:-100])
    _refused(path, "truncated or damaged")


def test_a_header_whose_offsets_lie_is_refused(tmp_path):
    path = _stored(tmp_path)
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    begin, end = header[f"{LAYER}.codes"]["data_offsets"]
    header[f"{LAYER}.codes"]["data_offsets"] = [begin, end + 7]  # claims bytes it lacks
    text = json.dumps(header, separators=(",", ":")).encode()
    assert len(text) <= length
    path.write_bytes(data[:8] + text.ljust(length) + data[8 + length:])
    _refused(path, "not a readable safetensors")


@pytest.mark.parametrize("part", ["codes", "scale", "bias"])
def test_a_missing_tensor_is_refused(tmp_path, part):
    path = _stored(tmp_path)
    _rewrite(path, lambda t: t.pop(f"{LAYER}.{part}"))
    _refused(path, "differ" if part == "codes" else f"{LAYER}.{part} is missing")


def test_codes_of_the_wrong_length_for_the_shape_are_refused(tmp_path):
    path = _stored(tmp_path)
    _rewrite(path, lambda t: t.__setitem__(f"{LAYER}.codes", t[f"{LAYER}.codes"][:-1].clone()))
    _refused(path, f"{LAYER}.codes is missing or not U8")


def test_a_scale_of_the_wrong_dtype_is_refused(tmp_path):
    path = _stored(tmp_path)
    _rewrite(path, lambda t: t.__setitem__(f"{LAYER}.scale", t[f"{LAYER}.scale"].double()))
    _refused(path, "F32")


@pytest.mark.parametrize(("packing", "byte"), [("base3", 243), ("base3", 255), ("2bit", 3),
                                               ("2bit", 0xC0)])
def test_bytes_no_packing_writes_are_refused(tmp_path, packing, byte):
    path = _stored(tmp_path, packing)

    def corrupt(tensors):
        tensors[f"{LAYER}.codes"][5] = byte
    _rewrite(path, corrupt)
    _refused(path, f"bytes that no {packing} codes pack to")


def test_a_changed_valid_byte_is_refused_by_its_digest(tmp_path):
    path = _stored(tmp_path)

    def corrupt(tensors):
        codes = tensors[f"{LAYER}.codes"]
        codes[3] = (int(codes[3]) + 1) % 243
    _rewrite(path, corrupt)
    _refused(path, "sha256")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0])
def test_a_scale_that_is_not_a_finite_nonnegative_number_is_refused(tmp_path, value):
    path = _stored(tmp_path)
    _rewrite(path, lambda t: t[f"{LAYER}.scale"].fill_(value))
    _refused(path, "not a finite scale")


def test_a_config_without_digests_is_refused(tmp_path):
    path = _stored(tmp_path)
    config_path = path.parent / "config.json"
    config = json.loads(config_path.read_text())
    del config["quantization_config"]["digests"]
    config_path.write_text(json.dumps(config))
    _refused(path, "sha256")
