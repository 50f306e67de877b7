"""Refuse a damaged ``forge_ternary`` directory instead of loading it as garbage.

Before the weights load (safetensors headers only, no tensor data):

- each weights file is readable safetensors (a truncated file, or a header whose offsets
  do not fit the file, is refused by ``safe_open``);
- the config's ternary modules are exactly those whose codes the files hold;
- each one has ``codes`` (U8, as many bytes as its shape needs in the config's packing),
  ``scale`` (F32, one number) and, when the layer has one, ``bias`` of its width.

After they load: every byte is one the packing writes (base3: below 243, and a tail number
below 3^(its codes); 2bit: no digit 3),
every scale is finite and not negative, and each module's codes and scale have the sha256
written with them (``digests`` in the config), so changed bytes are refused too. Every
error is a ValueError naming the file.
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn

from runtime.formats.ternary_packing import invalid_bytes

_DTYPES = {torch.uint8: "U8", torch.float32: "F32", torch.float16: "F16",
           torch.bfloat16: "BF16"}


def read_headers(checkpoint_files) -> dict[str, tuple[tuple[int, ...], str, str]]:
    """Every stored tensor: key -> (shape, dtype name, file), from the headers alone (every
    stored form checks its files with it).

    Raises:
        ValueError: a file that is not readable safetensors, naming it.
    """
    from safetensors import SafetensorError, safe_open

    found = {}
    for path in checkpoint_files:
        try:
            with safe_open(str(path), framework="pt") as f:
                for key in f.keys():
                    piece = f.get_slice(key)
                    found[key] = (tuple(piece.get_shape()), piece.get_dtype(), str(path))
        except (SafetensorError, OSError, ValueError) as err:
            raise ValueError(f"{path}: not a readable safetensors file ({err}); it is "
                             "truncated or damaged") from None
    return found


def check_headers(layers: dict[str, nn.Module], checkpoint_files) -> dict[str, str]:
    """The headers hold each of ``layers`` (name -> ``TernaryLinear``) whole, and codes of
    no other module; returns name -> the file holding its codes.

    Raises:
        ValueError: a module missing, unlisted or of the wrong shape or dtype, naming the file.
    """
    found = read_headers(checkpoint_files)
    files = ", ".join(str(p) for p in checkpoint_files) or "(no weights file)"
    stored = {k[: -len(".codes")] for k in found if k.endswith(".codes")}
    if stored != set(layers):
        odd = sorted(set(layers) ^ stored)
        raise ValueError(f"forge_ternary: quantization_config.modules and the codes stored in "
                         f"{files} differ at {odd[:3]} ({len(odd)} modules); the directory is "
                         "damaged")
    where = {}
    for name, layer in layers.items():
        expected = {"codes": (tuple(layer.codes.shape), "U8"), "scale": ((), "F32")}
        if layer.bias is not None:
            expected["bias"] = ((layer.out_features,), None)
        for part, (shape, dtype) in expected.items():
            key = f"{name}.{part}"
            shape_found, dtype_found, path = found.get(key, (None, None, files))
            if shape_found != shape or dtype not in (None, dtype_found):
                raise ValueError(f"forge_ternary: {path}: {key} is missing or not "
                                 f"{dtype or ''}{list(shape)} (found {dtype_found} "
                                 f"{shape_found}); the file is damaged")
        where[name] = found[f"{name}.codes"][2]
    return where


def layer_digest(layer: nn.Module) -> str:
    """sha256 of a ternary layer's packed codes and scale bytes."""
    digest = hashlib.sha256(layer.codes.detach().cpu().contiguous().numpy().tobytes())
    digest.update(layer.scale.detach().cpu().float().reshape(1).numpy().tobytes())
    return digest.hexdigest()


def check_loaded(layers: dict[str, nn.Module], where: dict[str, str],
                 digests: dict[str, str] | None) -> None:
    """Loaded codes are valid bytes of their packing, scales finite and >= 0, and each
    layer matches its digest.

    Raises:
        ValueError: the first damaged layer, naming its file.
    """
    for name, layer in layers.items():
        path = where.get(name, "the weights file")
        bad = invalid_bytes(layer.codes, layer.packing, layer.in_features * layer.out_features)
        if bad:
            raise ValueError(f"forge_ternary: {path}: {name}.codes holds {bad} bytes that no "
                             f"{layer.packing} codes pack to; the file is damaged")
        scale = float(layer.scale)
        if not scale >= 0 or scale == float("inf"):
            raise ValueError(f"forge_ternary: {path}: {name}.scale is {scale}, not a finite "
                             "scale >= 0; the file is damaged")
        if digests is None or digests.get(name) != layer_digest(layer):
            raise ValueError(f"forge_ternary: {path}: {name}'s codes and scale do not match "
                             "their sha256 in config.json (damaged, edited, or not written by "
                             "save_ternary)")
