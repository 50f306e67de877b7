"""Hugging Face model directories on disk: lazy safetensors reading and streaming writing.

Reading goes through ``safetensors.safe_open`` one tensor at a time. Writing lays out the
safetensors header first (every output tensor's dtype and shape is known before merging)
and then appends each tensor's bytes as soon as it is merged, so a directory merge holds
one tensor per input plus one output tensor in memory, never whole state dicts.
"""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import NamedTuple

import torch
from safetensors import safe_open

WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
# Copied from the first input beside the merged weights (tokenizer and generation defaults).
SIDE_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
              "added_tokens.json", "vocab.json", "vocab.txt", "merges.txt", "tokenizer.model",
              "chat_template.jinja", "chat_template.json", "generation_config.json")
DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
          "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32, "I16": torch.int16,
          "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}


class TensorSpec(NamedTuple):
    """A tensor's safetensors dtype name (``"F32"``) and shape."""

    dtype: str
    shape: tuple[int, ...]


class CheckpointReader:
    """Lazy, tensor-by-tensor access to a directory's safetensors (one file or shards)."""

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)
        self._stack = ExitStack()
        self._where: dict[str, object] = {}
        for file in _weight_files(self.directory):
            handle = self._stack.enter_context(safe_open(str(file), framework="pt"))
            for key in handle.keys():
                self._where[key] = handle

    def __enter__(self) -> CheckpointReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the memory-mapped files."""
        self._stack.close()

    def keys(self) -> list[str]:
        """Tensor names, in file order."""
        return list(self._where)

    def spec(self, key: str) -> TensorSpec:
        """dtype name and shape from the header, without reading data."""
        view = self._where[key].get_slice(key)
        return TensorSpec(view.get_dtype(), tuple(view.get_shape()))

    def specs(self) -> dict[str, TensorSpec]:
        """Every tensor's spec."""
        return {key: self.spec(key) for key in self._where}

    def get(self, key: str) -> torch.Tensor:
        """One tensor, read now."""
        return self._where[key].get_tensor(key)


def _weight_files(directory: Path) -> list[Path]:
    """The safetensors files of a model directory; ValueError when there are none."""
    if (directory / WEIGHTS).is_file():
        return [directory / WEIGHTS]
    index = directory / WEIGHTS_INDEX
    if index.is_file():
        shards = json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()
        return [directory / name for name in dict.fromkeys(shards)]
    raise ValueError(f"{directory}: no {WEIGHTS} or {WEIGHTS_INDEX} (merging reads "
                     "safetensors only; re-save the model with save_pretrained)")


def read_config(directory: Path | str) -> dict:
    """The directory's config.json as a dict."""
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise ValueError(f"{directory}: no config.json, not a Hugging Face model directory")
    return json.loads(path.read_text(encoding="utf-8"))


def write_safetensors(path: Path, specs: Mapping[str, TensorSpec],
                      tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
    """Write a safetensors file whose tensors arrive one at a time, in ``specs`` order.

    The header (names, dtypes, shapes, byte offsets) comes from ``specs``; each tensor must
    match its spec and arrive in that order. Written to a temporary name, then renamed.
    """
    header, offset = {}, 0
    for key, spec in specs.items():
        size = _numel(spec.shape) * torch.empty((), dtype=DTYPES[spec.dtype]).element_size()
        header[key] = {"dtype": spec.dtype, "shape": list(spec.shape),
                       "data_offsets": [offset, offset + size]}
        offset += size
    header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the format pads the header to 8-byte alignment
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for expected, (key, tensor) in zip(specs, tensors, strict=True):
            _check(expected, specs[expected], key, tensor)
            f.write(tensor.detach().contiguous().reshape(-1).view(torch.uint8).numpy().data)
    tmp.replace(path)


def _check(expected: str, spec: TensorSpec, key: str, tensor: torch.Tensor) -> None:
    """A tensor must arrive in header order with its header's dtype and shape."""
    got = TensorSpec(DTYPE_NAMES.get(tensor.dtype, str(tensor.dtype)), tuple(tensor.shape))
    if key != expected or got != spec:
        raise RuntimeError(f"merge produced {key} {got}, expected {expected} {spec} (a bug)")


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def write_directory(out: Path, config: dict, source: Path, specs: Mapping[str, TensorSpec],
                    tensors: Iterator[tuple[str, torch.Tensor]]) -> Path:
    """A loadable model directory: config.json, model.safetensors, ``source``'s side files."""
    out.mkdir(parents=True, exist_ok=True)
    write_safetensors(out / WEIGHTS, specs, tensors)
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n",
                                     encoding="utf-8")
    for name in SIDE_FILES:
        if (source / name).is_file() and source.resolve() != out.resolve():
            shutil.copyfile(source / name, out / name)
    return out
