"""``merge_directories``: merge Hugging Face model directories on disk, streaming.

Tensors are read one name at a time with ``safetensors.safe_open`` from every input, merged
and appended to the output file, so memory stays near one tensor per input.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from runtime.merge.architecture import architecture_of, check_depth, layer_count
from runtime.merge.checkpoint_io import (
    DEFAULT_MAX_SHARD_SIZE,
    DTYPE_NAMES,
    DTYPES,
    CheckpointReader,
    TensorSpec,
    read_config,
    write_directory,
)
from runtime.merge.checks import check_model_count, check_same_shapes, merge_tensor, output_dtype
from runtime.merge.compat import check_compatible_configs
from runtime.merge.layer_plan import TensorSource, layer_plan, path_config
from runtime.merge.registry import MERGES, TensorMethod, resolved_settings
from runtime.merge.request import MergeRequest


def merge_directories(request: MergeRequest, dirs: Sequence[Path | str], out: Path | str,
                      max_shard_size: int | str = DEFAULT_MAX_SHARD_SIZE) -> Path:
    """Merge model directories (safetensors) into a loadable directory ``out``.

    Args:
        request: The merge to perform.
        dirs: Input directories (config.json + model.safetensors or a sharded index).
        out: Output directory: config.json (depth updated for FrankenMerge/DFS, dtype set
            when ``request.dtype`` chooses one), the weights, the tokenizer of the first input
            that has one (a ForgeWarning when that is not input 0) and the first input's
            generation config.
        max_shard_size: Bytes (or ``"5GB"``, ``"500MiB"``) per weights file: a larger output
            is written as ``model-0000i-of-0000n.safetensors`` + ``model.safetensors.index.json``
            like ``save_pretrained``; default transformers' ``"50GB"``.

    Returns:
        ``out`` as a Path.

    Raises:
        ValueError: As :func:`runtime.merge.merge_models`, a directory without config.json /
            safetensors weights, or ``out`` being one of the inputs.
    """
    method = MERGES.get(request.technique)
    settings = resolved_settings(request)
    dirs, out = [Path(d) for d in dirs], Path(out)
    check_model_count(request, method, len(dirs))
    if any(out.resolve() == d.resolve() for d in dirs):
        raise ValueError(f"{out}: the output directory is one of the inputs; choose another")
    configs = [read_config(d) for d in dirs]
    readers = [CheckpointReader(d) for d in dirs]
    try:
        specs = [r.specs() for r in readers]
        if isinstance(method, TensorMethod):
            check_same_shapes([{k: s.shape for k, s in spec.items()} for spec in specs])
            check_compatible_configs(configs, request.allow_config_mismatch)
            tensors = _merged(method, request, settings, readers)
            out_specs, config = specs[0], configs[0]
        else:
            arch = architecture_of(specs[0])
            for i, spec in enumerate(specs):
                check_depth(arch, spec, layer_count(configs[i]))
            layers = method.path(request, settings, [layer_count(c) for c in configs])
            plan = layer_plan(arch, specs, layers)
            check_compatible_configs(configs, request.allow_config_mismatch, same_depth=False)
            out_specs = {key: specs[src.model][src.key] for key, src in plan.items()}
            config = path_config(dict(configs[0]), arch, configs, layers)
            tensors = _copied(plan, readers, request)
        out_specs, config = _with_dtype(request, out_specs, config)
        return write_directory(out, config, dirs, out_specs, tensors, max_shard_size)
    finally:
        for reader in readers:
            reader.close()


def _merged(method: TensorMethod, request: MergeRequest, settings: dict,
            readers: Sequence[CheckpointReader]) -> Iterator[tuple[str, torch.Tensor]]:
    """Merged tensors in the first input's order, each read from every input when needed."""
    with torch.no_grad():
        for key in readers[0].keys():
            yield key, merge_tensor(method, request, settings, key, [r.get(key) for r in readers])


def _copied(plan: dict[str, TensorSource], readers: Sequence[CheckpointReader],
            request: MergeRequest) -> Iterator[tuple[str, torch.Tensor]]:
    """Layer-path tensors: copied from their source, scaled in their own dtype when asked,
    then cast to the output dtype."""
    for key, src in plan.items():
        tensor = readers[src.model].get(src.key)
        tensor = tensor * src.scale if src.scale != 1.0 else tensor
        yield key, tensor.to(output_dtype(request, tensor.dtype))


def _with_dtype(request: MergeRequest, specs: dict[str, TensorSpec],
                config: dict) -> tuple[dict[str, TensorSpec], dict]:
    """Specs and config for ``request.dtype`` (unchanged for ``"first"``)."""
    if request.dtype == "first":
        return specs, config
    out = {key: TensorSpec(DTYPE_NAMES[output_dtype(request, DTYPES[s.dtype])], s.shape)
           for key, s in specs.items()}
    config = dict(config)
    for name in ("dtype", "torch_dtype"):
        if name in config or name == "dtype":
            config[name] = request.dtype
    return out, config
