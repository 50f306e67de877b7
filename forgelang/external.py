"""What the planner can learn about a user's own model directory without torch.

The safetensors header is JSON with every tensor's shape and dtype, so the exact
parameter count and byte size are read from it directly.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from forgelang.kinds.base import ModelSpec

_DTYPE_BITS = {"F64": 64, "F32": 32, "F16": 16, "BF16": 16, "I64": 64, "I32": 32, "I16": 16,
               "I8": 8, "U8": 8, "BOOL": 8, "F8_E4M3": 8, "F8_E5M2": 8}


def safetensors_params(path: Path) -> tuple[int, int]:
    """(parameter count, tensor bytes) of one .safetensors file, from its header."""
    with path.open("rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
    params = bits = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        n = 1
        for dim in info["shape"]:
            n *= dim
        params += n
        bits += n * _DTYPE_BITS.get(info["dtype"], 32)
    return params, bits // 8


def model_dir_spec(directory: Path) -> ModelSpec:
    """A ModelSpec for a Hugging Face model directory (safetensors weights required)."""
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        raise ValueError(f"{directory} has no .safetensors weights")
    params = nbytes = 0
    for f in files:
        p, b = safetensors_params(f)
        params, nbytes = params + p, nbytes + b
    arch = ()
    cfg = directory / "config.json"
    if cfg.is_file():
        data = json.loads(cfg.read_text())
        keep = ("model_type", "hidden_size", "num_hidden_layers", "vocab_size")
        arch = tuple(sorted((k, data[k]) for k in keep if k in data))
    bits = nbytes * 8 / max(1, params)
    return ModelSpec(params=params, bits_per_param=bits, architecture=arch)
