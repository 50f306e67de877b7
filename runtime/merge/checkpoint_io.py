"""Hugging Face model directories on disk: lazy safetensors reading and streaming writing.

Reading goes through ``safetensors.safe_open`` one tensor at a time. Writing lays out the
safetensors header first (every output tensor's dtype and shape is known before merging)
and then appends each tensor's bytes as soon as it is merged, so a directory merge holds
one tensor per input plus one output tensor in memory, never whole state dicts.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import struct
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import NamedTuple

import torch
from safetensors import safe_open

WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
SHARD_NAME = "model-{:05d}-of-{:05d}.safetensors"  # as transformers names shards
# transformers' save_pretrained default (5.x): outputs above it are written in shards
DEFAULT_MAX_SHARD_SIZE = "50GB"
# Copied beside the merged weights from the first input that has a tokenizer.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "added_tokens.json", "vocab.json", "vocab.txt", "merges.txt",
                   "tokenizer.model", "chat_template.jinja", "chat_template.json")
# Copied from the first input (generation defaults).
SIDE_FILES = ("generation_config.json",)
_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
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
        size = spec_bytes(spec)
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


def parse_size(size: int | str) -> int:
    """Bytes of ``size``: an int, or ``"5GB"`` (powers of 1000) / ``"5GiB"`` (of 1024)."""
    if isinstance(size, int) and not isinstance(size, bool):
        value = size
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?I?B)\s*", str(size).upper())
        if not match:
            raise ValueError(f"max_shard_size {size!r}: expected bytes or e.g. '5GB', '500MiB'")
        value = int(float(match.group(1)) * _UNITS[match.group(2)])
    if value < 1:
        raise ValueError(f"max_shard_size must be positive, got {size!r}")
    return value


def spec_bytes(spec: TensorSpec) -> int:
    """Bytes of one tensor's data."""
    return _numel(spec.shape) * torch.empty((), dtype=DTYPES[spec.dtype]).element_size()


def shard_plan(specs: Mapping[str, TensorSpec], max_bytes: int) -> list[dict[str, TensorSpec]]:
    """Consecutive groups of at most ``max_bytes`` each (a larger tensor gets its own)."""
    shards: list[dict[str, TensorSpec]] = [{}]
    size = 0
    for key, spec in specs.items():
        n = spec_bytes(spec)
        if shards[-1] and size + n > max_bytes:
            shards.append({})
            size = 0
        shards[-1][key] = spec
        size += n
    return shards


def write_weights(out: Path, specs: Mapping[str, TensorSpec],
                  tensors: Iterator[tuple[str, torch.Tensor]],
                  max_shard_size: int | str = DEFAULT_MAX_SHARD_SIZE) -> list[Path]:
    """``model.safetensors``, or transformers-style shards + ``model.safetensors.index.json``.

    Weight files left in ``out`` by an earlier write are removed first (a stale index would
    shadow a single file, a stale single file the shards). Returns the files written.
    """
    for stale in [out / WEIGHTS, out / WEIGHTS_INDEX, *out.glob("model-*-of-*.safetensors")]:
        stale.unlink(missing_ok=True)
    shards = shard_plan(specs, parse_size(max_shard_size))
    tensors = iter(tensors)
    if len(shards) == 1:
        write_safetensors(out / WEIGHTS, specs, tensors)
        return [out / WEIGHTS]
    files, weight_map = [], {}
    for i, shard in enumerate(shards, start=1):
        path = out / SHARD_NAME.format(i, len(shards))
        write_safetensors(path, shard, itertools.islice(tensors, len(shard)))
        weight_map.update(dict.fromkeys(shard, path.name))
        files.append(path)
    if next(tensors, None) is not None:
        raise RuntimeError("merge produced more tensors than the header lists (a bug)")
    index = {"metadata": {"total_size": sum(spec_bytes(s) for s in specs.values())},
             "weight_map": weight_map}
    (out / WEIGHTS_INDEX).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return [*files, out / WEIGHTS_INDEX]


def tokenizer_source(sources: Sequence[Path]) -> Path | None:
    """The first input that has tokenizer files; a ForgeWarning when it is not input 0."""
    for i, source in enumerate(sources):
        if any((source / name).is_file() for name in TOKENIZER_FILES):
            if i:
                from runtime.kernels import ForgeWarning

                warnings.warn(f"input 0 ({sources[0]}) has no tokenizer: the merged model gets "
                              f"input {i}'s ({source})", ForgeWarning, stacklevel=3)
            return source
    return None


def write_directory(out: Path, config: dict, sources: Sequence[Path],
                    specs: Mapping[str, TensorSpec], tensors: Iterator[tuple[str, torch.Tensor]],
                    max_shard_size: int | str = DEFAULT_MAX_SHARD_SIZE) -> Path:
    """A loadable model directory: config.json, weights (sharded above ``max_shard_size``),
    the tokenizer of the first input that has one, and the first input's generation config."""
    out.mkdir(parents=True, exist_ok=True)
    write_weights(out, specs, tensors, max_shard_size)
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n",
                                     encoding="utf-8")
    tok = tokenizer_source(sources)
    copies = [(sources[0], SIDE_FILES)] + ([(tok, TOKENIZER_FILES)] if tok else [])
    for source, names in copies:
        for name in names:
            if (source / name).is_file() and source.resolve() != out.resolve():
                shutil.copyfile(source / name, out / name)
    return out
