"""Prompt baking (Bhargava et al., arXiv:2409.13697): put a prompt's effect into the weights.

``bake_prompt`` samples trajectories ``y`` from the frozen base model prompted with ``u``,
trains LoRA adapters on the base model *without* ``u`` to minimise

    KL(P_theta(. | u, x, y_<t) || P_theta+LoRA(. | x, y_<t))

token by token, and merges the adapters into the weights scaled by ``strength``. Strength
below 1 is OUR variant of the design's "half-baking": the paper half-bakes by stopping
early; here the trained delta is scaled (0.5 applies half of it). ``bake_prompts`` bakes
several prompts in sequence: ``Bake(u2, Bake(u1, theta))``. See docs/baking.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from torch import nn

from runtime.baking.kl import mean_kl
from runtime.baking.lora import attach_adapters, detach_adapters, merge_adapters
from runtime.baking.train import DEFAULT_LR, Progress, make_optimizer, train_adapters
from runtime.baking.trajectories import sample_trajectories


@dataclass
class BakeResult:
    """What one bake did, measured.

    Attributes:
        model: the baked model (the same object as the input, with plain merged weights).
        kl_before: mean KL of the unbaked student to the prompted teacher on trajectories of
            the held-out queries.
        kl_after: the same KL for the returned model (merged at ``strength``).
        steps: optimiser steps taken (0 for an empty prompt).
        trajectories: training trajectories sampled from the teacher.
        strength: fraction of the trained weight delta merged.
        losses: the training KL of every step.
    """

    model: nn.Module
    kl_before: float
    kl_after: float
    steps: int
    trajectories: int
    strength: float
    losses: list[float] = field(default_factory=list)

    def metrics(self, prefix: str = "bake") -> dict[str, float]:
        """``<prefix>.kl_before``, ``.kl_after``, ``.steps``, ``.trajectories`` for the registry."""
        return {f"{prefix}.kl_before": self.kl_before, f"{prefix}.kl_after": self.kl_after,
                f"{prefix}.steps": float(self.steps),
                f"{prefix}.trajectories": float(self.trajectories)}


def _freeze(model: nn.Module) -> dict[nn.Parameter, bool]:
    """Turn off every base parameter's gradient; returns the flags to restore."""
    flags = {p: p.requires_grad for p in model.parameters()}
    for p in flags:
        p.requires_grad_(False)
    return flags


def bake_prompt(model: nn.Module, tokenizer, prompt: str, queries: Sequence[str], config, *,
                device, seed: int, heldout_queries: Sequence[str],
                progress: Progress | None = None, lr: float = DEFAULT_LR,
                optimizer: Mapping | None = None) -> BakeResult:
    """Bake ``prompt`` into ``model``'s weights (in place).

    Args:
        model: a causal LM (the Cognate model or any ``transformers`` one) on ``device``.
        tokenizer: its tokenizer.
        prompt: the prompt ``u``; '' is the identity bake (KL is 0; nothing is trained,
            since Adam would turn the rounding noise of a zero gradient into real steps).
        queries: student inputs ``x`` of the training trajectories (cycled).
        config: a ``BakeConfig`` (``steps``, ``trajectories``, ``trajectory_tokens``,
            ``batch_size``, ``lora_rank``, ``strength``).
        device: where the model runs.
        seed: seeds sampling, adapter initialisation and batch order.
        heldout_queries: queries not in ``queries``; one trajectory each measures
            ``kl_before`` / ``kl_after``.
        progress: called after each step with its index and ``{"kl", "grad_norm"}``.
        lr: AdamW learning rate of the adapters.
        optimizer: MuGrokfast settings (the phase's ``optimizer``) to use instead of AdamW.

    Returns:
        A :class:`BakeResult`; ``result.model`` is ``model``.
    """
    if set(heldout_queries) & set(queries):
        raise ValueError("held-out queries must not be among the training queries")
    was_training, flags = model.training, _freeze(model)
    model.eval()  # no dropout: teacher and student see the same function
    try:
        return _bake(model, tokenizer, prompt, queries, config, device=device, seed=seed,
                     heldout_queries=heldout_queries, progress=progress, lr=lr,
                     optimizer=optimizer)
    finally:
        for p, flag in flags.items():
            p.requires_grad_(flag)
        model.train(was_training)


def _bake(model, tokenizer, prompt, queries, config, *, device, seed, heldout_queries,
          progress, lr, optimizer) -> BakeResult:
    """:func:`bake_prompt` on a frozen model in eval mode."""
    sample = dict(device=device, batch_size=config.batch_size)
    train = sample_trajectories(model, tokenizer, prompt, queries, config.trajectories,
                                config.trajectory_tokens, seed=seed, **sample)
    held = sample_trajectories(model, tokenizer, prompt, heldout_queries, len(heldout_queries),
                               config.trajectory_tokens, seed=seed + 1, **sample)
    kl_before = mean_kl(model, held, config.batch_size)
    steps = config.steps if prompt else 0
    adapters = attach_adapters(model, config.lora_rank, seed=seed)
    try:
        losses = train_adapters(model, adapters, train, steps=steps,
                                batch_size=config.batch_size, seed=seed + 2,
                                optimizer=make_optimizer(adapters, lr, optimizer),
                                progress=progress)
    except BaseException:
        detach_adapters(adapters)  # leave the caller's model as it was
        raise
    merge_adapters(adapters, config.strength)
    kl_after = mean_kl(model, held, config.batch_size)
    return BakeResult(model, kl_before, kl_after, steps, len(train), config.strength, losses)


def bake_prompts(model: nn.Module, tokenizer, prompts: Sequence[str], queries: Sequence[str],
                 config, *, device, seed: int, heldout_queries: Sequence[str],
                 **options) -> list[BakeResult]:
    """Sequential baking ``Bake(u_n, ... Bake(u_2, Bake(u_1, theta)))``.

    Bake ``k`` (0-based) uses seed ``seed + 1000 k`` and the model baked so far as its
    frozen teacher (prompted with ``u_k``). ``options`` go to :func:`bake_prompt`.

    Returns:
        One :class:`BakeResult` per prompt, in order; the last one's ``model`` (the same
        object as ``model``) carries every bake.
    """
    return [bake_prompt(model, tokenizer, prompt, queries, config, device=device,
                        seed=seed + 1000 * k, heldout_queries=heldout_queries, **options)
            for k, prompt in enumerate(prompts)]
