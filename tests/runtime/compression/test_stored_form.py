"""The ``forge_compressed`` form: from_pretrained loads it into a model that generates,
with the decoded weights exactly; damaged files are refused naming the file."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from runtime.compression import hyper, seedlm, vptq
from runtime.compression.codes import LayerCode
from runtime.compression.stored import DECODERS, save_compressed
from runtime.formats.ternary import default_modules, pack_trits, ternarize
from runtime.phases.toolkit.inputs import load_model, load_tokenizer
from tests.runtime.phases.kernel_inputs import llama_input


def _codes(model) -> tuple[dict, dict]:
    """A code of every method for the llama's target layers, and the shared codebooks."""
    names = default_modules(model)
    weights = {n: model.get_submodule(n).weight.detach() for n in names}
    spec = vptq.VptqSpec(vector_len=4, codebook=8, kmeans_iters=2)
    scaled = [(w / vptq.rms_scale(w), torch.ones(w.shape[1])) for w in weights.values()]
    books = vptq.train_codebooks(scaled, spec, seed=0)
    codes = {}
    for i, (name, w) in enumerate(weights.items()):
        if i % 4 == 0:
            codes[name] = seedlm.encode(w, seedlm.SeedLMSpec(seed_bits=6))
        elif i % 4 == 1:
            codes[name] = vptq.encode(w, torch.eye(w.shape[1]), books, spec, ("books", None))
        elif i % 4 == 2:
            codes[name] = hyper.encode(w, hyper.HyperSpec(points=64, bits=8))
        else:
            trits, gamma = ternarize(w)
            codes[name] = LayerCode("ternary", tuple(w.shape), {"packing": "base3"},
                                    {"codes": pack_trits(trits), "scale": gamma})
    return codes, {"books": books.main.half()}


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    root = tmp_path_factory.mktemp("stored")
    source = llama_input(root / "in").path
    model, tokenizer = load_model(source, "cpu"), load_tokenizer(source)
    codes, shared = _codes(model)
    dense = {n: DECODERS[c.method](c, shared) for n, c in codes.items()}
    kept = {k: v.clone() for k, v in model.state_dict().items() if "embed" in k or "norm" in k
            or k.startswith("lm_head")}
    out = save_compressed(model, tokenizer, root / "out", codes, shared)
    return {"root": root, "out": out, "dense": dense, "kept": kept, "codes": codes}


def test_loads_with_the_decoded_weights_and_generates(stored):
    model = load_model(stored["out"], "cpu")
    for name, weight in stored["dense"].items():
        assert torch.equal(model.get_submodule(name).weight, weight), name
    state = model.state_dict()
    for key, value in stored["kept"].items():  # embeddings, norms, head as they were
        assert torch.equal(state[key], value) and state[key].dtype == value.dtype, key
    ids = model.generate(torch.tensor([[1, 5, 6]]), max_new_tokens=3, do_sample=False)
    assert ids.shape == (1, 6)


def test_weights_file_holds_codes_not_dense_matrices(stored):
    tensors = load_file(stored["out"] / "model.safetensors")
    for name, code in stored["codes"].items():
        assert f"{name}.weight" not in tensors
        for key, value in code.tensors.items():
            assert torch.equal(tensors[f"{name}.{key}"], value)
    assert tensors["compression_codebooks.books"].dtype == torch.float16


def _copy(stored, name):
    import shutil

    target = stored["root"] / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(stored["out"], target)
    return target


def test_truncated_weights_file_is_refused_naming_it(stored):
    target = _copy(stored, "truncated")
    weights = target / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ValueError, match="model.safetensors"):
        load_model(target, "cpu")


def test_bit_flipped_code_is_refused_naming_the_file(stored):
    target = _copy(stored, "flipped")
    weights = target / "model.safetensors"
    tensors = load_file(weights)
    key = next(k for k in tensors if k.endswith(".coefs"))
    tensors[key] = tensors[key] ^ 1  # one bit of every byte: still valid safetensors
    save_file(tensors, weights, metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"model\.safetensors.*sha256"):
        load_model(target, "cpu")


def test_config_with_an_unknown_method_or_missing_tensor_is_refused(stored):
    target = _copy(stored, "badconfig")
    config = json.loads((target / "config.json").read_text())
    layers = config["quantization_config"]["layers"]
    name = next(iter(layers))
    layers[name]["method"] = "pickle"
    (target / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="method"):
        load_model(target, "cpu")
    target = _copy(stored, "missing")
    weights = target / "model.safetensors"
    tensors = load_file(weights)
    del tensors[next(k for k in tensors if k.endswith(".indices"))]
    save_file(tensors, weights, metadata={"format": "pt"})
    with pytest.raises(ValueError, match="model.safetensors"):
        load_model(target, "cpu")
