"""MuGrokfast: Muon for hidden matrices, AdamW for the rest, Grokfast on every gradient,
QK-Clip after every step, and an STE mode for ternary training.

One ``step()`` does, in order: (1) in STE mode, copy low-precision gradients onto the
fp32 latent weights; (2) Grokfast-EMA on every gradient (g ← g + λμ); (3) the Muon or
AdamW update per parameter group; (4) write latent weights back; (5) QK-Clip.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from runtime.optim.config import MuGrokfastConfig
from runtime.optim.grokfast import ema_filter_many_
from runtime.optim.muon import muon_group_update_
from runtime.optim.qk_clip import QKClip, QKClipTarget

# Name segments that mark embeddings and output heads: matrices that Muon must not take.
_EMBEDDING_PART = "embed"
_HEAD_SEGMENTS = frozenset({"lm_head", "head", "wte", "wpe", "output", "classifier"})


def route_parameter(name: str, param: torch.Tensor,
                    io_ids: frozenset[int] = frozenset()) -> str:
    """Which update a parameter gets: ``"muon"`` or ``"adamw"``.

    1-D (and 0-D) tensors — norms' gains, biases — go to AdamW; so do embeddings, output
    heads and other matrices that are not hidden weights, found by identity (``io_ids``,
    see ``_adamw_matrix_ids``) or by a name segment such as ``embed_tokens``, ``lm_head``,
    ``wte``. Every other matrix goes to Muon.
    """
    if param.ndim < 2 or id(param) in io_ids:
        return "adamw"
    segments = name.lower().split(".")
    if any(_EMBEDDING_PART in s or s in _HEAD_SEGMENTS for s in segments):
        return "adamw"
    return "muon"


def _adamw_matrix_ids(model: nn.Module) -> frozenset[int]:
    """Identities of a model's embedding tables and output embeddings, and of what its
    ``adamw_parameters()`` (when it has one) names: matrices that are not hidden weights,
    such as learned tokens or a small extra head."""
    ids = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    get_out = getattr(model, "get_output_embeddings", None)
    out = get_out() if callable(get_out) else None
    if out is not None and getattr(out, "weight", None) is not None:
        ids.add(id(out.weight))
    declared = getattr(model, "adamw_parameters", None)
    if callable(declared):
        ids.update(id(p) for p in declared())
    return frozenset(ids)


@torch.no_grad()
def adamw_update_(param: torch.Tensor, grad: torch.Tensor, state: dict, *, lr: float,
                  betas: tuple[float, float], eps: float, weight_decay: float) -> None:
    """One bias-corrected AdamW step with decoupled weight decay, in place."""
    adamw_group_update_([param], [grad], [state], lr=lr, betas=betas, eps=eps,
                        weight_decay=weight_decay)


@torch.no_grad()
def adamw_group_update_(params: list[torch.Tensor], grads: list[torch.Tensor], states: list[dict],
                        *, lr: float, betas: tuple[float, float], eps: float,
                        weight_decay: float) -> None:
    """:func:`adamw_update_` for several tensors, with ``torch._foreach`` ops (one call per
    step of the update for all of them; the same results as one tensor at a time).

    Tensors whose step counts differ (e.g. one joined a group late) are updated in separate
    batches, each with its own bias correction.
    """
    by_step: dict[int, list[int]] = {}
    for i, (param, state) in enumerate(zip(params, states, strict=True)):
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(param)
            state["exp_avg_sq"] = torch.zeros_like(param)
        state["step"] += 1
        by_step.setdefault(state["step"], []).append(i)
    beta1, beta2 = betas
    for step, index in by_step.items():
        p = [params[i] for i in index]
        g = [grads[i] for i in index]
        exp_avg = [states[i]["exp_avg"] for i in index]
        exp_avg_sq = [states[i]["exp_avg_sq"] for i in index]
        torch._foreach_lerp_(exp_avg, g, 1.0 - beta1)
        torch._foreach_mul_(exp_avg_sq, beta2)
        torch._foreach_addcmul_(exp_avg_sq, g, g, value=1.0 - beta2)
        denom = torch._foreach_div(exp_avg_sq, 1.0 - beta2 ** step)
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, eps)
        torch._foreach_mul_(p, 1.0 - lr * weight_decay)
        torch._foreach_addcdiv_(p, exp_avg, denom, value=-lr / (1.0 - beta1 ** step))


class MuGrokfast(torch.optim.Optimizer):
    """The combined optimiser (a ``torch.optim.Optimizer``, so lr schedulers work).

    Args:
        params: a model, or (name, parameter) pairs. With a model, embedding tables and
            ``get_output_embeddings()`` are recognised by identity, and a
            ``model.qk_clip_targets()`` method, when present, supplies QK-Clip targets.
        config: settings; defaults to ``MuGrokfastConfig()``.
        qk_clip_targets: attention modules to clip after each step (overrides the model's).

    Attributes:
        routes: parameter name -> "muon" | "adamw".
        last_qk_scales: the per-head γ of the last QK-Clip (one tensor per target).
    """

    def __init__(self, params: nn.Module | Iterable[tuple[str, torch.Tensor]],
                 config: MuGrokfastConfig | None = None,
                 qk_clip_targets: Iterable[QKClipTarget] | None = None) -> None:
        self.config = cfg = config or MuGrokfastConfig()
        named, io_ids = _named_parameters(params)
        wants_targets = cfg.qk_clip_tau > 0 and qk_clip_targets is None
        if wants_targets and callable(getattr(params, "qk_clip_targets", None)):
            qk_clip_targets = params.qk_clip_targets()
        self.qk_targets: list[QKClipTarget] = list(qk_clip_targets or [])
        self.qk_clip = QKClip(cfg.qk_clip_tau) if cfg.qk_clip_tau > 0 else None
        self.routes = {n: route_parameter(n, p, io_ids) for n, p in named}
        # STE mode: low-precision parameters are trained through fp32 latent copies.
        self._latent_pairs: list[tuple[torch.Tensor, torch.Tensor]] = []
        groups = self._build_groups(named)
        super().__init__(groups, {})
        self._check_qk_targets()
        self.last_qk_scales: list[torch.Tensor] = []

    def _build_groups(self, named: list[tuple[str, torch.Tensor]]) -> list[dict]:
        """Muon, decayed-AdamW and undecayed-AdamW groups (empty ones are left out)."""
        cfg = self.config
        common = dict(grokfast_alpha=cfg.grokfast_alpha, grokfast_lambda=cfg.grokfast_lambda)
        muon = dict(kind="muon", lr=cfg.muon_lr, momentum=cfg.momentum,
                    nesterov=cfg.nesterov, ns_steps=cfg.ns_steps, ns_dtype=cfg.ns_dtype,
                    weight_decay=cfg.weight_decay, scale=cfg.muon_scale, **common)
        adam = dict(kind="adamw", lr=cfg.adam_lr, betas=cfg.adam_betas, eps=cfg.adam_eps,
                    **common)
        buckets = {"muon": [], "adamw": [], "adamw_no_decay": []}
        for name, p in named:
            route = self.routes[name]
            if route == "adamw" and p.ndim < 2:
                route = "adamw_no_decay"
            buckets[route].append(self._trainable_tensor(p))
        groups = [dict(params=buckets["muon"], **muon),
                  dict(params=buckets["adamw"], weight_decay=cfg.weight_decay, **adam),
                  dict(params=buckets["adamw_no_decay"], weight_decay=0.0, **adam)]
        return [g for g in groups if g["params"]]

    def _trainable_tensor(self, p: torch.Tensor) -> torch.Tensor:
        """The tensor the optimiser updates: ``p`` itself, or its fp32 latent in STE mode."""
        if not (self.config.ste_mode and p.dtype != torch.float32):
            return p
        latent = p.detach().float().clone()
        self._latent_pairs.append((latent, p))
        return latent

    def _check_qk_targets(self) -> None:
        """QK-Clip edits model weights; on a weight with a separate latent copy that edit
        would be overwritten by the next write-back, so it is refused."""
        latent_storages = {p.untyped_storage().data_ptr() for _, p in self._latent_pairs}
        for t in self.qk_targets:
            for w in (t.q_weight, t.k_weight):
                if w.untyped_storage().data_ptr() in latent_storages:
                    raise ValueError("QK-Clip on low-precision weights in STE mode is not "
                                     "supported: keep q/k projections in fp32")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear gradients, including those of model weights hidden behind STE latents."""
        super().zero_grad(set_to_none)
        for _, p in self._latent_pairs:
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    @torch.no_grad()
    def step(self, closure=None):
        """Grokfast-filter all gradients, update every group, write latents, QK-Clip."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for latent, p in self._latent_pairs:
            latent.grad = None if p.grad is None else p.grad.float()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            self._grokfast(params, group)
            if group["kind"] == "muon":
                muon_group_update_(params, self.state, group)
            else:
                adamw_group_update_(params, [p.grad for p in params],
                                    [self.state[p] for p in params], lr=group["lr"],
                                    betas=group["betas"], eps=group["eps"],
                                    weight_decay=group["weight_decay"])
        for latent, p in self._latent_pairs:
            p.copy_(latent)
        if self.qk_clip is not None and self.qk_targets:
            self.last_qk_scales = self.qk_clip.apply(self.qk_targets)
        return loss

    def _grokfast(self, params: list[torch.Tensor], group: dict) -> None:
        """Amplify the slow component of every ``p.grad`` in place (Grokfast EMA filter)."""
        if group["grokfast_lambda"] == 0.0:
            return
        mus = ema_filter_many_([p.grad for p in params],
                               [self.state[p].get("grokfast_mu") for p in params],
                               group["grokfast_alpha"], group["grokfast_lambda"])
        for p, mu in zip(params, mus, strict=True):
            self.state[p]["grokfast_mu"] = mu

    def state_dict(self) -> dict:
        """Torch's optimiser state plus the STE latent weights and the config."""
        sd = super().state_dict()
        sd["latent_weights"] = [latent.clone() for latent, _ in self._latent_pairs]
        sd["config"] = self.config.to_dict()
        return sd

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore :meth:`state_dict`'s output (bit-exact resume on CPU)."""
        sd = dict(state_dict)
        latents = sd.pop("latent_weights", [])
        sd.pop("config", None)
        if len(latents) != len(self._latent_pairs):
            raise ValueError(f"checkpoint has {len(latents)} latent weights, optimiser "
                             f"has {len(self._latent_pairs)}")
        super().load_state_dict(sd)
        with torch.no_grad():
            for (latent, p), saved in zip(self._latent_pairs, latents, strict=True):
                latent.copy_(saved)
                p.copy_(latent)

    @classmethod
    def from_config(cls, model: nn.Module, cfg: dict | MuGrokfastConfig,
                    qk_clip_targets: Iterable[QKClipTarget] | None = None) -> MuGrokfast:
        """Build from a settings dict (keys as in :class:`MuGrokfastConfig`)."""
        config = cfg if isinstance(cfg, MuGrokfastConfig) else MuGrokfastConfig.from_dict(cfg)
        return cls(model, config, qk_clip_targets)


def _named_parameters(params) -> tuple[list[tuple[str, torch.Tensor]], frozenset[int]]:
    """Trainable (name, parameter) pairs and the identities of embeddings/heads."""
    if isinstance(params, nn.Module):
        named = [(n, p) for n, p in params.named_parameters() if p.requires_grad]
        return named, _adamw_matrix_ids(params)
    named = list(params)
    if not all(isinstance(item, tuple) and len(item) == 2 for item in named):
        raise TypeError("MuGrokfast takes a model or (name, parameter) pairs, "
                        "e.g. model.named_parameters()")
    return named, frozenset()
