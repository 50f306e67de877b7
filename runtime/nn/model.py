"""The Cognate model: TRM recursion over a Titans-MAG block stack, as a transformers causal LM."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from runtime.nn.blocks import BlockStack
from runtime.nn.config import TrmTitansMagConfig
from runtime.nn.losses import IGNORE_INDEX, halting_loss, lm_loss, pooled, shift_labels
from runtime.nn.memory import GATE_BIAS_INIT, NeuralMemory
from runtime.nn.norm import RMSNorm
from runtime.nn.recursion import supervision_step
from runtime.optim.qk_clip import QKClipTarget


@dataclass
class TrmCausalLMOutput(ModelOutput):
    """Output of :class:`TrmTitansMagForCausalLM`.

    Attributes:
        loss: Training loss averaged over supervision steps (LM cross-entropy + halting BCE).
        logits: ``(B, T, V)`` logits of the last supervision step.
        halt_logits: ``(B,)`` halting-head logits of the last step ("the answer is exactly right").
        lm_loss: Cross-entropy of the last supervision step (the model's next-token loss).
        step_lm_losses: ``(S,)`` cross-entropy of every supervision step, detached.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    halt_logits: torch.Tensor | None = None
    lm_loss: torch.Tensor | None = None
    step_lm_losses: torch.Tensor | None = None


class TrmTitansMagForCausalLM(PreTrainedModel, GenerationMixin):
    """TRM x Titans-MAG causal language model.

    ``x = embed(ids)``; ``(y, z)`` start from learned vectors; each of ``supervision_steps``
    steps runs the TRM recursion with the MAG block stack as ``f``; logits are
    ``lm_head(final_norm(y))``. Without labels all steps still run (the last step's last cycle
    keeps a graph when grad is enabled), so outputs do not depend on whether a loss is asked for.
    """

    config_class = TrmTitansMagConfig
    base_model_prefix = "trm"
    main_input_name = "input_ids"
    _tied_weights_keys = {"lm_head.weight": "embed_tokens.weight"}
    _no_split_modules = ["MagBlock"]

    def __init__(self, config: TrmTitansMagConfig):
        super().__init__(config)
        d = config.d_model
        self.embed_tokens = nn.Embedding(config.vocab_size, d)
        self.persistent = nn.Parameter(torch.empty(config.n_persistent, d))
        self.y_init = nn.Parameter(torch.empty(d))
        self.z_init = nn.Parameter(torch.empty(d))
        self.stack = BlockStack(config)
        self.final_norm = RMSNorm(d, eps=config.rms_eps)
        self.halt_head = nn.Linear(d, 1)
        self.lm_head = nn.Linear(d, config.vocab_size, bias=False)
        self.post_init()
        self.generation_config.use_cache = False

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        """No KV cache exists, so generate() must not build one."""
        return False

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """Normal(0, initializer_range) for projections; fan-in scaled memory MLP; set gate biases."""
        std = self.config.initializer_range
        if isinstance(module, NeuralMemory):
            # same scheme as NeuralMemory.reset_parameters, through transformers' init guards
            init.normal_(module.init_w1, std=module.init_w1.shape[1] ** -0.5)
            init.normal_(module.init_w2, std=module.init_w2.shape[1] ** -0.5)
            init.normal_(module.gates.weight, std=std)
            bias = module.gates.bias
            init.copy_(bias, torch.tensor(GATE_BIAS_INIT, dtype=bias.dtype, device=bias.device))
        elif isinstance(module, TrmTitansMagForCausalLM):
            for p in (module.persistent, module.y_init, module.z_init):
                init.normal_(p, std=std)
        elif isinstance(module, nn.Linear):
            init.normal_(module.weight, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, std=std)
        elif isinstance(module, nn.RMSNorm):
            init.ones_(module.weight)

    def qk_clip_targets(self) -> list[QKClipTarget]:
        """QK-Clip adapters for every layer's attention (MuGrokfast picks them up).

        Asking for them turns on recording of each head's max logit in training forwards
        (one extra ``q k^T`` per attention call) and clears anything recorded before.
        """
        targets = []
        for layer in self.stack.layers:
            attn = layer.attn
            attn.record_max_logits, attn._max_logits = True, None
            targets.append(QKClipTarget(attn.q_proj.weight, attn.k_proj.weight, attn.n_heads,
                                        attn.head_dim, attn.take_max_logits))
        return targets

    def adamw_parameters(self) -> list[nn.Parameter]:
        """Matrices that are not hidden weights, so MuGrokfast gives them AdamW, not Muon: the
        persistent memory tokens (learned vectors, like an embedding table) and the halting
        head (a (1, d) output head)."""
        return [self.persistent, self.halt_head.weight]

    def get_input_embeddings(self) -> nn.Embedding:
        """The token embedding."""
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        """Replace the token embedding."""
        self.embed_tokens = value

    def get_output_embeddings(self) -> nn.Linear:
        """The LM head."""
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear) -> None:
        """Replace the LM head."""
        self.lm_head = value

    @staticmethod
    def _positions(attention_mask: torch.Tensor | None, seq_len: int, device) -> torch.Tensor:
        """RoPE positions: 0..T-1, or counted over real tokens when left-padded."""
        if attention_mask is None:
            return torch.arange(seq_len, device=device)  # (T,)
        return (attention_mask.long().cumsum(-1) - 1).clamp_min(0)  # (B, T)

    def _readout(self, y: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, T, V) and halting logits (B,) of answer state ``y``."""
        h = self.final_norm(y)  # (B, T, d)
        return self.lm_head(h), self.halt_head(pooled(h, weights)).squeeze(-1)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> TrmCausalLMOutput | tuple:
        """Run the deep-supervised recursion.

        Args:
            input_ids: ``(B, T)`` token ids (or pass ``inputs_embeds (B, T, d)``).
            attention_mask: Optional ``(B, T)``, 0 marks (left) padding.
            labels: Optional ``(B, T)`` ids, IGNORE_INDEX (-100) where unsupervised; shifted
                inside, like every transformers causal LM.
            inputs_embeds: Alternative to ``input_ids``.
            return_dict: False returns a tuple ``(loss?, logits, halt_logits)``.
            **kwargs: Ignored generation extras (e.g. ``use_cache``).

        Returns:
            :class:`TrmCausalLMOutput`.
        """
        x = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds  # (B, T, d)
        b, t, _ = x.shape
        positions = self._positions(attention_mask, t, x.device)

        # built once: every application of the stack in the recursion reuses them
        constants = self.stack.constants(self.persistent, positions, attention_mask, x.dtype)

        def f(h: torch.Tensor) -> torch.Tensor:
            return self.stack(h, self.persistent, positions, attention_mask, constants)

        out = self._deep_supervision(f, x, attention_mask, labels)
        if return_dict is False:
            return tuple(v for v in (out.loss, out.logits, out.halt_logits) if v is not None)
        return out

    def _deep_supervision(self, f, x, attention_mask, labels) -> TrmCausalLMOutput:
        """Supervision steps with ``(y, z)`` carried detached; loss averaged over steps."""
        b, t, d = x.shape
        y = self.y_init.expand(b, t, d)
        z = self.z_init.expand(b, t, d)
        targets = shift_labels(labels) if labels is not None else None
        if targets is not None:
            pool = targets != IGNORE_INDEX
        else:
            pool = attention_mask if attention_mask is not None else x.new_ones(b, t)
        n_steps, cfg = self.config.supervision_steps, self.config
        losses, step_lm = [], []
        for step in range(n_steps):
            # without labels only the final step's output is used, so only it keeps a graph
            track = targets is not None or step == n_steps - 1
            y, z = supervision_step(f, x, y, z, cfg.n_latent_steps, cfg.n_cycles, track)
            if targets is not None or step == n_steps - 1:
                logits, halt = self._readout(y, pool)
            if targets is not None:
                ce = lm_loss(logits, targets)
                losses.append(ce + halting_loss(halt, logits, targets))
                step_lm.append(ce.detach())
            y, z = y.detach(), z.detach()
        if targets is None:
            return TrmCausalLMOutput(logits=logits, halt_logits=halt)
        return TrmCausalLMOutput(
            loss=torch.stack(losses).mean(), logits=logits, halt_logits=halt,
            lm_loss=step_lm[-1], step_lm_losses=torch.stack(step_lm),
        )

    def prepare_inputs_for_generation(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None, **kwargs
    ) -> dict:
        """Feed the whole prefix every step: without a KV cache, the recursion recomputes it."""
        return {"input_ids": input_ids, "attention_mask": attention_mask}
