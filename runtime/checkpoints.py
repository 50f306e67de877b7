"""In-phase checkpoints: safetensors + JSON, hash-verified, never unpickled.

A checkpoint is a tree of dicts, lists and tuples whose leaves are tensors or JSON
values (numbers, strings, booleans, None): a model's ``state_dict()``, an optimiser's
``state_dict()`` (integer keys and tuples included), a step count, torch's RNG state.
``save_checkpoint(directory, name, tree)`` writes two files:

- ``<name>.<sha12>.safetensors``: every tensor of the tree, under its path in the tree;
- ``<name>.json``: the tree with tensors replaced by references, the tensors file's
  name and sha256, and a sha256 of that JSON content itself.

The JSON file is written last (temporary file, fsync, ``os.replace``): it is the commit
point, so a kill at any moment leaves either the old checkpoint or the new one.
``load_checkpoint`` re-hashes both files before it builds anything; a truncated,
bit-flipped or hand-edited checkpoint raises ``CheckpointError``, and the caller
discards it (``discard_checkpoint``) and recomputes what it held.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import torch

FORMAT = 1
MAX_JSON_BYTES = 256 * 2**20  # an EvoMerge state with thousands of predictions is a few MB
_TENSOR, _TUPLE, _DICT = "__tensor__", "__tuple__", "__dict__"


class CheckpointError(ValueError):
    """A checkpoint that cannot be trusted: missing part, wrong hash, malformed content."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _content_digest(body: dict) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _flatten(node: Any, path: str, tensors: dict[str, torch.Tensor], seen: set[int]) -> Any:
    """The JSON skeleton of ``node``; its tensors go into ``tensors`` under their path."""
    if isinstance(node, torch.Tensor):
        tensor = node.detach().cpu()
        if tensor.untyped_storage().data_ptr() in seen:  # safetensors refuses shared storage
            tensor = tensor.clone()
        seen.add(tensor.untyped_storage().data_ptr())
        tensors[path] = tensor.contiguous()
        return {_TENSOR: path}
    if isinstance(node, dict):
        for key in node:
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"checkpoint key {key!r} at {path or '/'} is not a str or int")
        return {_DICT: [[k, _flatten(v, f"{path}/{k}", tensors, seen)] for k, v in node.items()]}
    if isinstance(node, (list, tuple)):
        items = [_flatten(v, f"{path}/{i}", tensors, seen) for i, v in enumerate(node)]
        return {_TUPLE: items} if isinstance(node, tuple) else items
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    raise TypeError(f"checkpoint value at {path or '/'} is a {type(node).__name__}; "
                    "only tensors, containers and JSON values are stored")


def _unflatten(node: Any, tensors: dict[str, torch.Tensor], depth: int = 0) -> Any:
    """Rebuild the tree ``_flatten`` described, refusing anything it could not have written."""
    if depth > 64:
        raise CheckpointError("checkpoint tree nests deeper than 64 levels")
    if isinstance(node, list):
        return [_unflatten(v, tensors, depth + 1) for v in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {_TENSOR} and node[_TENSOR] in tensors:
        return tensors[node[_TENSOR]]
    if set(node) == {_TUPLE} and isinstance(node[_TUPLE], list):
        return tuple(_unflatten(v, tensors, depth + 1) for v in node[_TUPLE])
    if set(node) == {_DICT} and isinstance(node[_DICT], list):
        pairs = node[_DICT]
        if not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], (str, int))
                   for p in pairs):
            raise CheckpointError("checkpoint holds a malformed mapping")
        return {k: _unflatten(v, tensors, depth + 1) for k, v in pairs}
    raise CheckpointError(f"checkpoint holds an unknown node {sorted(node)[:3]}")


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _tensor_files(directory: Path, name: str) -> list[Path]:
    """The tensors files of checkpoint ``name`` (not those of ``<name>.partial``)."""
    pattern = re.compile(rf"{re.escape(name)}\.[0-9a-f]{{12}}\.safetensors")
    return [p for p in Path(directory).glob(f"{name}.*.safetensors") if pattern.fullmatch(p.name)]


def manifest_path(directory: Path, name: str) -> Path:
    """The JSON file that makes checkpoint ``name`` exist."""
    return Path(directory) / f"{name}.json"


def has_checkpoint(directory: Path, name: str) -> bool:
    """Whether checkpoint ``name`` was written (it may still fail verification)."""
    return manifest_path(directory, name).exists()


def save_checkpoint(directory: Path, name: str, tree: dict) -> None:
    """Write ``tree`` as checkpoint ``name`` in ``directory`` (see the module docstring)."""
    from safetensors.torch import save

    directory = Path(directory)
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _flatten(tree, "", tensors, set())
    blob = save(tensors)
    digest = hashlib.sha256(blob).hexdigest()
    weights = directory / f"{name}.{digest[:12]}.safetensors"
    _atomic_write(weights, blob)
    body = {"format": FORMAT, "tensors": weights.name, "tensors_sha256": digest,
            "tree": skeleton}
    manifest = {**body, "sha256": _content_digest(body)}
    _atomic_write(manifest_path(directory, name), json.dumps(manifest).encode("utf-8"))
    for old in _tensor_files(directory, name):
        if old.name != weights.name:
            old.unlink(missing_ok=True)


def _read_manifest(path: Path) -> dict:
    if not path.is_file() or path.stat().st_size > MAX_JSON_BYTES:
        raise CheckpointError(f"{path.name} is not a regular file of at most {MAX_JSON_BYTES} B")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise CheckpointError(f"{path.name} is not valid JSON ({type(err).__name__})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"{path.name} is not a checkpoint of format {FORMAT}")
    body = {k: v for k, v in manifest.items() if k != "sha256"}
    if manifest.get("sha256") != _content_digest(body):
        raise CheckpointError(f"{path.name} does not match its recorded sha256 (edited or corrupt)")
    return manifest


def load_checkpoint(directory: Path, name: str) -> dict | None:
    """Checkpoint ``name``'s tree, or None when there is none.

    Raises:
        CheckpointError: it exists but fails verification (see the module docstring).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    directory = Path(directory)
    path = manifest_path(directory, name)
    if not path.exists():
        return None
    manifest = _read_manifest(path)
    weights = directory / str(manifest.get("tensors", ""))
    if weights not in _tensor_files(directory, name) or not weights.is_file():
        raise CheckpointError(f"{path.name} names a tensors file that is not beside it")
    blob = weights.read_bytes()
    if hashlib.sha256(blob).hexdigest() != manifest.get("tensors_sha256"):
        raise CheckpointError(f"{weights.name} does not match its recorded sha256 "
                              "(truncated or corrupt)")
    try:
        tensors = load(blob)
    except (SafetensorError, ValueError) as err:
        raise CheckpointError(f"{weights.name} is not a safetensors file ({err})") from None
    tree = _unflatten(manifest.get("tree"), tensors)
    if not isinstance(tree, dict):
        raise CheckpointError(f"{path.name} does not hold a mapping")
    return tree


def remove_checkpoint(directory: Path, name: str) -> None:
    """Delete checkpoint ``name`` (once what it held is saved elsewhere)."""
    manifest_path(directory, name).unlink(missing_ok=True)
    for weights in _tensor_files(directory, name):
        weights.unlink(missing_ok=True)


def discard_checkpoint(directory: Path, name: str, reason: str = "bad") -> Path | None:
    """Set checkpoint ``name`` aside as ``<name>.<reason>.json`` (kept for inspection);
    its tensors files are removed. Returns where the JSON went, if there was one."""
    directory = Path(directory)
    for weights in _tensor_files(directory, name):
        weights.unlink(missing_ok=True)
    path = manifest_path(directory, name)
    if not path.exists():
        return None
    aside = directory / f"{name}.{reason}.json"
    os.replace(path, aside)
    return aside
