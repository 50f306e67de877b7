"""The content-addressed artifact store."""

from __future__ import annotations

import pytest

from runtime.artifacts import ArtifactError, ArtifactStore, hash_directory, safetensors_params


def _model_dir(path, content=b"weights"):
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "sub").mkdir()
    (path / "sub" / "w.txt").write_bytes(content)
    return path


def test_hash_depends_on_paths_and_bytes(tmp_path):
    a = _model_dir(tmp_path / "a")
    b = _model_dir(tmp_path / "b")
    assert hash_directory(a) == hash_directory(b)
    (b / "sub" / "w.txt").write_bytes(b"weightz")
    assert hash_directory(a) != hash_directory(b)
    (b / "sub" / "w.txt").rename(b / "sub" / "v.txt")
    (b / "sub" / "v.txt").write_bytes(b"weights")
    assert hash_directory(a) != hash_directory(b)


def test_put_verify_and_corruption(tmp_path):
    store = ArtifactStore(tmp_path / "ws")
    sha = store.put_dir(_model_dir(tmp_path / "m"))
    assert store.verify(sha) == store.path(sha)
    assert store.put_dir(tmp_path / "m") == sha  # idempotent
    assert not list(store.root.glob(".tmp-*"))
    (store.path(sha) / "sub" / "w.txt").write_bytes(b"flipped")
    with pytest.raises(ArtifactError, match="corrupt"):
        store.load_model_dir(sha)
    assert store.put_dir(tmp_path / "m") == sha  # a rewrite repairs it
    store.verify(sha)
    assert list(store.root.glob(".corrupt-*"))  # the bad copy was kept aside
    with pytest.raises(ArtifactError, match="missing"):
        store.verify("0" * 64)


def test_pickle_files_are_refused(tmp_path):
    d = _model_dir(tmp_path / "m")
    (d / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(ArtifactError, match="never unpickles"):
        ArtifactStore(tmp_path / "ws").put_dir(d)


def test_save_model_uses_safetensors(tmp_path):
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1, "b": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")
    config = transformers.GPT2Config(vocab_size=3, n_positions=8, n_embd=8, n_layer=1, n_head=2)
    model = transformers.GPT2LMHeadModel(config)
    store = ArtifactStore(tmp_path / "ws")
    sha = store.save_model(model, fast)
    files = {p.name for p in store.verify(sha).iterdir()}
    assert "model.safetensors" in files and "tokenizer.json" in files
    assert not any(f.endswith((".bin", ".pt")) for f in files)
    expected = sum(p.numel() for p in model.parameters())  # tied weights counted once
    assert safetensors_params(store.path(sha)) == expected
    reloaded = transformers.GPT2LMHeadModel.from_pretrained(store.path(sha))
    assert sum(p.numel() for p in reloaded.parameters()) == expected
