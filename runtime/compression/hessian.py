"""Calibration statistics: H = 2 X Xᵀ / n of each linear layer's inputs (GPTQ, VPTQ).

Forward pre-hooks on the chosen layers accumulate XᵀX over every token the layer sees
while the model runs on calibration sequences (one sequence a forward, so no padding
enters the sums; a layer called several times per forward, as the Cognate model's
recursion does, counts every call).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


@torch.no_grad()
def input_hessians(model, modules: Sequence[str], sequences: Sequence[Sequence[int]],
                   device: str, should_stop=lambda: False) -> dict[str, torch.Tensor]:
    """H (in, in), float32 (sums of float32 products; the Cholesky runs in float64), of
    each named module, from ``sequences`` of token ids.

    A layer that saw no token gets H = 0 (the caller damps it).
    """
    sums = {name: None for name in modules}
    counts = dict.fromkeys(modules, 0)

    def hook_for(name):
        def hook(_module, args):
            x = args[0].detach().reshape(-1, args[0].shape[-1]).float()  # (tokens, in)
            sums[name] = x.T @ x if sums[name] is None else sums[name] + x.T @ x
            counts[name] += x.shape[0]
        return hook

    handles = [model.get_submodule(n).register_forward_pre_hook(hook_for(n)) for n in modules]
    try:
        for ids in sequences:
            if should_stop():
                break
            model(input_ids=torch.tensor([list(ids)], dtype=torch.long, device=device))
    finally:
        for handle in handles:
            handle.remove()
    out = {}
    for name in modules:
        width = model.get_submodule(name).in_features
        total = sums[name] if sums[name] is not None else torch.zeros(width, width)
        out[name] = 2 * total.cpu() / max(1, counts[name])
    return out
