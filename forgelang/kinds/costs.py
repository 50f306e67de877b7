"""Cost model shared by the estimate functions: FLOPs, bytes and seconds from shapes.

What is counted (all fp32, 4 bytes a value):

- FLOPs: a matrix-vector product with P weights costs 2P; backward costs twice the
  forward. Attention adds 4*d*(T + N_p) per token per layer, because the runtime
  materialises the masked T x (N_p + T) score matrix (QK^T and AV).
- TRM recursion (Cognate models): per supervision step the block stack f runs
  T*(n+1) times forward; only the last cycle's (n+1) applications are back-propagated.
  Each application also writes the Titans memory (forward + gradient of the memory
  MLP, 6 FLOPs per memory weight per token) for every chunk but the last, which no
  later read needs (so a sequence of one chunk writes nothing, and does not project the
  write's keys, values and gates either). The LM head runs once per supervision
  step. Inference runs every supervision step (the halting head may stop earlier, so
  this is an upper bound).
- Training state: weights + gradients + Grokfast EMA (4 B each per parameter) + Muon
  momentum (4 B per matrix parameter) + AdamW moments (8 B per other parameter).
- Activations kept for backward, per token per back-propagated layer application:
  4 B x (16 d + 3 d_ff + 2 memory_hidden) values plus the score matrix
  (n_heads x (T + N_p)); the logits need 3 x V values per token (logits, softmax, grad).
  The Titans memory runs in dual form: per written token it keeps its key, value
  error and two hidden vectors (2 d + 2 memory_hidden values) and per chunk the
  chunk x written-tokens score matrices (about 3 per chunk), per sequence, per
  back-propagated application. The layer terms are scaled by ``SAVED_LAYER_FIT`` and the
  memory terms by ``SAVED_MEMORY_FIT``, and the weights are saved once more: fitted to the
  bytes a real tiny Cognate step saves for backward (``saved_tensors_hooks``, unique
  storages) at six batch shapes (8-16 rows, 32-128 tokens), all within 1% (the smoke model's
  step: 11% over); a test checks it. A step's peak adds to the process's RSS ``STEP_RSS_FACTOR`` times what it saves
  (gradients of the activations and forward temporaries beside them; measured 1.22-1.33
  at those shapes).
- Fixed cost per tensor op: small models spend most of a step dispatching ops, not in
  FLOPs (a tiny Cognate step runs ~2,500 ops for 6 GFLOP), so a training step also costs
  its op count times the device's ``op_seconds``. The Cognate op count is fitted to
  counts of real steps (see ``OPS_*``; a test checks it against counted steps).
- Framework overhead: 512 MiB on CUDA (context, cuBLAS workspace, allocator slack),
  256 MiB on CPU (the Python process with torch loaded). Our planning constants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from forgelang.devices import DeviceProfile
from forgelang.kinds import cognate_arch as ca
from forgelang.kinds.base import ModelSpec

FP32 = 4
MiB = 2**20
OVERHEAD_BYTES = {"cuda": 512 * MiB, "cpu": 256 * MiB}
# Tensor ops (aten calls) of a Cognate training step, fitted to TorchDispatchMode counts of
# real steps (smoke, tiny, tiny with 6 layers, with 2 supervision steps, with T = 2 and n = 2,
# with 20- to 100-token batches, smoke with 8-token chunks: 1.8k-14k ops, all within 1%):
# the loss, embedding, clip and optimiser groups; per parameter tensor (its share of the
# optimiser and of the per-forward weight fusion); one block application, forward +
# backward; one memory chunk write inside it, the last write of a sequence skipping the
# surprise; an application without a graph runs a share of those.
OPS_STEP_BASE = 430
OPS_PER_TENSOR = 4
OPS_PER_APPLICATION = 295
OPS_PER_WRITE = 515
OPS_LAST_WRITE_SAVING = 150
UNTRACKED_SHARE = 0.28
TENSORS_PER_LAYER, TENSORS_TOP = 19, 7
SAVED_LAYER_FIT, SAVED_MEMORY_FIT = 1.19, 3.63  # see the module docstring: fitted, counted
STEP_RSS_FACTOR = 1.26  # RSS peak of a training step / bytes it saves for backward (measured)
TOKENIZER_CONFIG_BYTES = 64 * 1024  # config.json + tokenizer.json beside the weights (approx.)


@dataclass(frozen=True)
class ModelCost:
    """What the estimates need to know about one model's shape."""

    params: int
    matrix_params: int  # 2-D hidden matrices: Muon-routed, ternarised, compressed
    n_matrices: int
    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    vocab_size: int
    layer_params: int  # one block's parameters
    memory_hidden: int = 0
    memory_chunk: int = 1
    write_params: int = 0  # one block's memory key, value and gate weights (unused by one chunk)
    n_persistent: int = 0
    recursions: int = 1  # block-stack applications per supervision step, forward (T*(n+1))
    backprop_recursions: int = 1  # applications back-propagated per supervision step (n+1)
    supervision_steps: int = 1

    def application_flops(self, seq_len: int) -> float:
        """Forward FLOPs per token of one pass through the block stack."""
        ctx = seq_len + self.n_persistent
        attention = 4 * self.d_model * ctx * self.n_layers
        memory_write = 6 * 2 * self.d_model * self.memory_hidden * self.n_layers
        written = self.written_share(seq_len)
        weights = self.layer_params - (self.write_params if written == 0 else 0)
        return 2 * weights * self.n_layers + attention + memory_write * written

    def written_share(self, seq_len: int) -> float:
        """Share of a sequence's tokens written into the memory: every chunk but the last
        (a write only serves later chunks' reads), so none for one chunk or less."""
        if not self.memory_hidden:
            return 0.0
        chunks = math.ceil(seq_len / self.memory_chunk)
        return (chunks - 1) * self.memory_chunk / seq_len

    def head_flops(self) -> float:
        return 2 * self.vocab_size * self.d_model

    def forward_flops_per_token(self, seq_len: int) -> float:
        """One full forward (every supervision step, every recursion) per token."""
        per_step = self.recursions * self.application_flops(seq_len) + self.head_flops()
        return self.supervision_steps * per_step

    def train_flops_per_token(self, seq_len: int) -> float:
        """Forward + backward of one training step (all supervision steps) per token."""
        backward = 2 * (self.backprop_recursions * self.application_flops(seq_len)
                        + self.head_flops())
        return self.forward_flops_per_token(seq_len) + self.supervision_steps * backward

    def activation_bytes(self, batch: int, seq_len: int) -> int:
        """Bytes one supervision step of one batch saves for backward (fitted, see above)."""
        d = self.d_model
        per_layer = FP32 * (16 * d + 3 * self.d_ff + 2 * self.memory_hidden
                            + self.n_heads * (seq_len + self.n_persistent))
        stored = per_layer * self.n_layers * self.backprop_recursions * batch * seq_len
        written = self.written_share(seq_len) * seq_len  # tokens written per sequence
        memory_states = (FP32 * (written * (2 * d + 2 * self.memory_hidden) + 3 * seq_len * written)
                         * self.n_layers * batch * self.backprop_recursions)
        logits = 3 * FP32 * self.vocab_size * batch * seq_len
        return int(SAVED_LAYER_FIT * stored + SAVED_MEMORY_FIT * memory_states + logits
                   + FP32 * self.params)

    def step_bytes(self, batch: int, seq_len: int) -> int:
        """What a training step on one batch adds to the process's RSS at its peak."""
        return int(STEP_RSS_FACTOR * self.activation_bytes(batch, seq_len))

    def train_ops_per_step(self, seq_len: int) -> float:
        """Tensor ops one training step dispatches (see ``OPS_*``)."""
        writes = math.ceil(seq_len / self.memory_chunk) - 1 if self.memory_hidden else 0
        application = (OPS_PER_APPLICATION + OPS_PER_WRITE * writes
                       - OPS_LAST_WRITE_SAVING * (writes > 0))
        tracked = self.supervision_steps * self.backprop_recursions * self.n_layers
        untracked = self.supervision_steps * (self.recursions - self.backprop_recursions)
        tensors = TENSORS_PER_LAYER * self.n_layers + TENSORS_TOP
        return (OPS_STEP_BASE + OPS_PER_TENSOR * tensors + tracked * application
                + untracked * self.n_layers * application * UNTRACKED_SHARE)

    def inference_bytes(self, batch: int, seq_len: int) -> int:
        """Transient activations of a no-grad forward (one layer's worth plus logits)."""
        d = self.d_model
        per_token = FP32 * (16 * d + 3 * self.d_ff + self.n_heads * (seq_len + self.n_persistent)
                            + 2 * self.vocab_size)
        return int(per_token * batch * seq_len)


def cost_of(spec: ModelSpec) -> ModelCost:
    """The cost model of a model flowing between phases (Cognate or a plain transformer)."""
    arch = spec.arch()
    if arch.get("type") == ca.TrmTitansMagArch.model_fields["type"].default:
        return _trm_cost(ca.arch_from(arch))
    return _plain_cost(spec, arch)


def _trm_cost(a: ca.TrmTitansMagArch) -> ModelCost:
    return ModelCost(
        params=ca.count_parameters(a), matrix_params=ca.matrix_parameters(a),
        n_matrices=ca.matrix_count(a), d_model=a.d_model, n_layers=a.n_layers,
        n_heads=a.n_heads, d_ff=a.d_ff, vocab_size=a.vocab_size,
        layer_params=ca.layer_parameters(a), memory_hidden=a.memory_hidden,
        memory_chunk=a.memory_chunk, n_persistent=a.n_persistent,
        write_params=2 * a.d_model**2 + 3 * a.d_model,
        recursions=a.n_cycles * (a.n_latent_steps + 1),
        backprop_recursions=a.n_latent_steps + 1, supervision_steps=a.supervision_steps)


def _plain_cost(spec: ModelSpec, arch: dict) -> ModelCost:
    """A user's transformer: shapes from its config.json when known, else guessed.

    Guess (when config.json lacks them): 4 layers of 12 d^2 parameters each, vocab 32000
    capped so that the embedding is at most half of the model.
    """
    n_layers = int(arch.get("num_hidden_layers") or 4)
    d = int(arch.get("hidden_size") or max(8, math.isqrt(max(1, spec.params // (24 * n_layers)))))
    vocab = int(arch.get("vocab_size") or max(16, min(32_000, spec.params // (2 * d))))
    embed = vocab * d
    layer = max(1, (spec.params - embed) // n_layers)
    return ModelCost(params=spec.params, matrix_params=layer * n_layers,
                     n_matrices=7 * n_layers, d_model=d, n_layers=n_layers,
                     n_heads=max(1, d // 64), d_ff=4 * d, vocab_size=vocab, layer_params=layer)


def training_state_bytes(cost: ModelCost, trainable: int | None = None) -> int:
    """Weights of the whole model + gradients, Grokfast EMA and optimiser moments of the trainable part."""
    trainable = cost.params if trainable is None else trainable
    share = trainable / max(1, cost.params)
    matrices = int(cost.matrix_params * share)
    others = trainable - matrices
    return FP32 * cost.params + FP32 * 2 * trainable + FP32 * matrices + 2 * FP32 * others


def overhead(device: DeviceProfile) -> int:
    """Memory of the apply process before a phase holds anything: what ``forge calibrate``
    measured for the profile, else our default for its device type."""
    measured = getattr(device, "base_memory_bytes", 0)
    return measured or OVERHEAD_BYTES.get(device.type, OVERHEAD_BYTES["cpu"])


def seconds(flops: float, device: DeviceProfile, ops: float = 0.0) -> float:
    """Compute time at the profile's sustained training throughput, plus ``ops`` tensor
    ops at the profile's fixed cost per op."""
    return flops / device.flops_per_second + ops * device.op_seconds


def same_shape(spec: ModelSpec, bits: float | None = None) -> ModelSpec:
    """A model shaped like ``spec`` (params unchanged), optionally at another precision."""
    if bits is None:
        return spec
    return ModelSpec(params=spec.params, bits_per_param=bits, architecture=spec.architecture,
                     extra_bytes=spec.extra_bytes)


def first_input(inputs: tuple[ModelSpec, ...], kind: str) -> ModelSpec:
    if not inputs:
        raise ValueError(f"{kind} needs an input model to estimate")
    return inputs[0]


def suite_batch_length(levels, batch_size: int, seq_len: int, vocab_size: int = 512,
                       weights: dict[str, float] | None = None) -> float:
    """Expected length of a batch of the synthetic suite once its padding is trimmed.

    A batch is cut after its longest example, so this is the mean of the longest of
    ``batch_size`` examples drawn from ``levels`` (uniformly) and the families' ``weights``
    (default: every family equally, the shared pre-training mix), among those that fit
    ``seq_len`` (the phase skips longer ones). Lengths come from the measured table
    ``suite_lengths`` (per family and level, a reference tokenizer of the alphabet that
    ``vocab_size`` gets).
    """
    from forgelang.kinds import suite_lengths

    table = (suite_lengths.PERCENTILES if vocab_size >= suite_lengths.BYTE_MIN_VOCAB
             else suite_lengths.CHAR_PERCENTILES)
    weights = weights or dict.fromkeys(table, 1.0)
    mass: dict[int, float] = {}  # length -> probability mass, before dropping what is too long
    for family, weight in weights.items():
        for level in levels:
            points = table[family][level]
            for x in points:
                mass[x] = mass.get(x, 0.0) + weight / len(points)
    fitting = sorted((x, m) for x, m in mass.items() if x <= seq_len)
    total = sum(m for _, m in fitting)
    if not fitting:
        return float(seq_len)
    expected, below = 0.0, 0.0  # E[max] = sum_x x (F(x)^B - F(x-)^B)
    for x, m in fitting:
        cdf = below + m / total
        expected += x * (cdf ** batch_size - below ** batch_size)
        below = cdf
    return expected
