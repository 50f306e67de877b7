"""Configuration of the Cognate model: TRM recursion over a Titans-MAG block stack."""

from __future__ import annotations

from typing import ClassVar

from transformers import PretrainedConfig

MODEL_TYPE = "trm_titans_mag"


class TrmTitansMagConfig(PretrainedConfig):
    """Hyper-parameters of :class:`~runtime.nn.model.TrmTitansMagForCausalLM`.

    transformers 5.x turns config subclasses into keyword-only dataclasses, so every field is a
    class attribute with its default. The standard names that generic transformers code reads
    (``hidden_size``, ``num_hidden_layers``, ``tie_word_embeddings``...) are aliases kept in
    ``attribute_map``, so one value has one home.

    Attributes:
        vocab_size: Number of token ids.
        d_model: Width of the residual stream.
        n_layers: Blocks in the stack ``f`` that TRM applies recursively.
        n_heads: Attention heads (``d_model`` must divide evenly).
        d_ff: Hidden width of the SwiGLU MLP.
        window: Sliding-window size ``w``: a query sees itself and the ``w - 1`` tokens before it.
        n_persistent: ``N_p`` learnable persistent-memory tokens every query always sees.
        memory_hidden: Hidden width of the Titans memory MLP ``d -> memory_hidden -> d``.
        memory_chunk: Tokens per memory write; reads at ``t`` see writes of earlier chunks only.
        memory_max_grad_norm: Per-token clip of the memory's test-time gradient (None: raw).
        n_latent_steps: TRM ``n``: latent updates ``z <- f(x + y + z)`` per cycle.
        n_cycles: TRM ``T``: cycles per supervision step; only the last is back-propagated.
        supervision_steps: Deep-supervision steps, with ``(y, z)`` carried and detached.
        max_seq_len: Longest sequence the model is meant for (RoPE has no hard limit).
        tie_embeddings: Share the LM head with the token embedding.
        rms_eps: Epsilon of every RMSNorm.
        rope_theta: RoPE base frequency.
        initializer_range: Standard deviation of the normal weight initialisation.
        use_cache: Always False: the recursion recomputes the whole prefix, there is no KV cache.
    """

    model_type: ClassVar[str] = MODEL_TYPE
    attribute_map: ClassVar[dict[str, str]] = {
        "hidden_size": "d_model",
        "num_hidden_layers": "n_layers",
        "num_attention_heads": "n_heads",
        "intermediate_size": "d_ff",
        "max_position_embeddings": "max_seq_len",
        "tie_word_embeddings": "tie_embeddings",
    }

    # Defaults: the design's full size (~25M parameters); smoke/tiny recipes shrink them.
    vocab_size: int = 8192
    d_model: int = 512
    n_layers: int = 4
    n_heads: int = 8
    d_ff: int = 1536
    window: int = 128  # our choice; attention cost stays linear in T beyond it
    n_persistent: int = 8  # our choice; Titans uses a handful of persistent tokens
    memory_hidden: int = 512
    memory_chunk: int = 16  # our choice; shorter chunks = fresher memory, more sequential steps
    memory_max_grad_norm: float | None = 1.0  # our choice; bounds each token's write (stability)
    n_latent_steps: int = 6  # TRM paper default n
    n_cycles: int = 3  # TRM paper default T
    supervision_steps: int = 4  # TRM uses up to 16; 4 keeps CPU training affordable
    max_seq_len: int = 512
    tie_embeddings: bool = True
    rms_eps: float = 1e-6
    rope_theta: float = 10000.0
    initializer_range: float = 0.02
    use_cache: bool = False
    pad_token_id: int | None = 0
    bos_token_id: int | None = 1
    eos_token_id: int | None = 2

    def __post_init__(self, **kwargs):
        self.use_cache = False  # no KV cache exists; generate() must recompute the prefix
        super().__post_init__(**kwargs)
        self.validate_architecture()

    def validate_architecture(self) -> None:
        """Raise ValueError for shapes the model cannot be built with."""
        if self.d_model % self.n_heads != 0:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")
        if (self.d_model // self.n_heads) % 2 != 0:
            raise ValueError("the head size d_model / n_heads must be even for RoPE")
        positive = ("vocab_size", "d_model", "n_layers", "n_heads", "d_ff", "window",
                    "memory_hidden", "memory_chunk", "n_latent_steps", "n_cycles",
                    "supervision_steps", "max_seq_len")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.memory_max_grad_norm is not None and self.memory_max_grad_norm <= 0:
            raise ValueError("memory_max_grad_norm must be positive or None")
        if self.n_persistent < 0:
            raise ValueError(f"n_persistent must be >= 0, got {self.n_persistent}")
