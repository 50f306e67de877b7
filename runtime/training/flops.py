"""Count the FLOPs one training step executes, op by op, with torch's ``FlopCounterMode``.

The counter sees every matmul-like op (mm, bmm, addmm, einsum's contractions, convolutions)
of the forward, the backward and the no-grad TRM cycles, and counts each as 2 FLOPs per
multiply-add; element-wise work (norms, activations, the optimiser) is not counted, as in
the usual model-FLOPs utilisation. torch has no formula for the CPU flash-attention kernel
that ``scaled_dot_product_attention`` runs on CPU, so this module maps it (and its backward)
to torch's own attention formulas; like those, it counts the full ``T x S`` score matrix,
masked or not.
"""

from __future__ import annotations

import torch
from torch.utils import flop_counter

aten = torch.ops.aten


def _cpu_attention(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return flop_counter.sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_attention_backward(grad_out_shape, query_shape, key_shape, value_shape, *args,
                            out_shape=None, **kwargs) -> int:
    return flop_counter.sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape,
                                                 value_shape)


CPU_ATTENTION_FORMULAS = {
    aten._scaled_dot_product_flash_attention_for_cpu: _cpu_attention,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_attention_backward,
}


def counter() -> flop_counter.FlopCounterMode:
    """A silent FLOP counter that also knows the CPU attention kernels."""
    return flop_counter.FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION_FORMULAS)


def training_step_flops(model: torch.nn.Module, input_ids: torch.Tensor,
                        labels: torch.Tensor) -> int:
    """FLOPs of one forward + backward of ``model`` on a batch, counted from the ops run.

    The gradients this leaves are cleared (set to None); the weights are not changed.

    Args:
        model: a causal LM whose forward takes ``input_ids``/``labels`` and returns ``.loss``.
        input_ids: ``(B, T)`` token ids.
        labels: ``(B, T)`` labels.

    Returns:
        The counted FLOPs (2 per multiply-add).
    """
    with counter() as count:
        model(input_ids=input_ids, labels=labels).loss.backward()
    model.zero_grad(set_to_none=True)
    return int(count.get_total_flops())
