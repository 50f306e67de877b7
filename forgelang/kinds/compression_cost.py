"""The compression phase's cost model: what the kernel runs, counted stage by stage.

- which stages run: the kernel skips a stage that would not store the hidden matrices in
  fewer bytes than they take now; the estimate applies the same rule to bits per
  matrix weight (the input's, derived from its average bits per parameter with
  everything but the matrices at 32 bits when the input is below 32; then each applied
  stage's), so a skipped stage costs nothing here either, and ``skipped_stages`` tells
  ``forge plan`` which to warn about (W004);
- measurement: the input, then the output of every applied stage (greedy decoding and
  two perplexity passes, ``evomerge_cost.heldout_work``); none applied: the output once.
  A ternary input (below 32 bits) and every stage's output run their stored forms:
  ``STORED_FORM_OPS`` more tensor ops per hidden matrix per forward;
- SeedLM: per block of C weights and per seed (2^K - 1), the fit Uᵀw (2CP), U⁺w (2P²),
  quantisation (~``SEEDLM_ELEMENTWISE`` elementwise ops per coefficient) and the error
  (2P² + 5P), chunked (``SEEDLM_CHUNK`` seeds x blocks x C per step);
- VPTQ: ``calibration_samples`` forwards of one suite sequence, XᵀX per layer call
  (``HESSIAN_OPS_PER_CALL``); k-means (2v + 4 per vector per centroid per iteration, main
  and residual); GPTQ assignment (2k (+ 2k_res) per weight) and error feedback (~2 x 128
  per weight), with ``VPTQ_OPS_PER_COLUMN`` tensor ops per column of every target
  (``target_columns``);
- hyper-compression: nearest of M trajectory points per group of d weights (2d + 2 per
  point).

Elementwise work is counted as FLOPs at the device's throughput; ``ELEMENTWISE_COST`` (a
planning constant) is how many matmul FLOPs an elementwise op costs on CPU.
"""

from __future__ import annotations

import math

from forgelang.kinds import costs, evomerge_cost, pass_cost

ELEMENTWISE_COST = 4.0  # memory-bound elementwise op ≈ this many matmul FLOPs (planning)
SEEDLM_ELEMENTWISE = 12  # ops per coefficient: abs, max, log2, ceil, clamps, round, scale
SEEDLM_CHUNK = 1 << 22  # runtime.compression.seedlm.CHUNK_ELEMENTS
SEEDLM_OPS_PER_CHUNK = 30
# tensor ops counted (TorchDispatchMode) on the tiny phase's VPTQ stage, 37 targets of
# 128-384 columns: exactly 32 per column + 11 per 128-column block + 5 per matrix
VPTQ_OPS_PER_COLUMN = 32  # nearest centroid, gather, error, feedback into the block
VPTQ_RESIDUAL_OPS_PER_COLUMN = 17  # the residual codebook's nearest, gather and add
VPTQ_OPS_PER_BLOCK = 11  # the lazy batch update of the later columns
HESSIAN_OPS_PER_CALL = 4  # XᵀX and its sum per target layer call (tiny: 1,291 - 992) / 74
STORED_FORM_OPS = 8.5  # per hidden matrix per forward, ternary or compressed form (counted:
#                        tiny +312 over the float model's 680, smoke +212 over 474)
GPTQ_BLOCK = 128  # runtime.compression.vptq.BLOCK_COLUMNS
CODEBOOK_BYTES = 2
SCALE_BYTES = 4
HYPER_CHUNK = 1 << 22  # runtime.compression.kmeans.CHUNK_ELEMENTS
# k-means' nearest-centroid chunks (4M distances each): the tiny VPTQ stage's codebook
# training raised the RSS by 112 MiB, 7 such buffers (product, difference, argmin, scratch)
KMEANS_BUFFERS = 7
STATE_COPIES = 5  # input model, its float base, a copy being written, current model, weights


def input_matrix_bits(first, cost) -> float:
    """Bits per hidden-matrix weight of the input (see the module docstring)."""
    bpp = min(first.bits_per_param, 32.0)
    if bpp >= 32.0 or cost.matrix_params <= 0:
        return bpp
    rest = first.params - cost.matrix_params
    bits = (first.params * bpp - rest * 32.0) / cost.matrix_params
    return bits if 0 < bits <= bpp else bpp


def stage_bits(stage, cost) -> float:
    """Stored bits per matrix weight of a stage, its codebooks and scales included."""
    if stage.type != "vptq":
        extra = 64 if stage.type == "hyper" else 0  # offset + span a matrix
        return stage.bits_per_weight() + extra * cost.n_matrices / max(1, cost.matrix_params)
    vectors = max(1, cost.matrix_params // stage.vector_len)
    k, k_res = min(stage.codebook, vectors), min(stage.residual, vectors) if stage.residual else 0
    bits = math.ceil(math.log2(max(2, k))) / stage.vector_len
    bits += math.ceil(math.log2(max(2, k_res))) / stage.vector_len if k_res else 0.0
    books = (k + k_res) * stage.vector_len * CODEBOOK_BYTES + SCALE_BYTES * cost.n_matrices
    return bits + 8 * books / max(1, cost.matrix_params)


def applied_stages(stages, first, cost) -> tuple[list[bool], float]:
    """Which stages run (the kernel's skip rule) and the matrices' bits after them."""
    bits, applied = input_matrix_bits(first, cost), []
    for stage in stages:
        new = stage_bits(stage, cost)
        applied.append(new < bits)
        bits = new if new < bits else bits
    return applied, bits


def skipped_stages(stages, first, cost) -> list[tuple[int, str]]:
    """(index, reason) of every stage the kernel will skip."""
    applied, _ = applied_stages(stages, first, cost)
    out, bits = [], input_matrix_bits(first, cost)
    for i, (stage, run) in enumerate(zip(stages, applied, strict=True)):
        new = stage_bits(stage, cost)
        if not run:
            out.append((i, f"{stage.type} at {new:.2f} bits/weight would not make the "
                           f"hidden matrices smaller than their {bits:.2f} bits/weight"))
        bits = new if run else bits
    return out


def seedlm_work(work: pass_cost.Work, stage, cost) -> None:
    """The seed search of every block of every matrix."""
    seeds = 2**stage.seed_bits - 1
    blocks = math.ceil(cost.matrix_params / stage.block)
    c, p = stage.block, stage.latent
    per = 2 * c * p + 4 * p * p + 5 * p + ELEMENTWISE_COST * (SEEDLM_ELEMENTWISE * p + 6)
    work.flops += seeds * blocks * per
    steps = math.ceil(seeds * blocks * c / SEEDLM_CHUNK) + cost.n_matrices
    work.ops += SEEDLM_OPS_PER_CHUNK * steps


def target_columns(cost) -> int:
    """Input columns of every compressed matrix: each linear but the head; a Cognate
    layer's 3-output memory gates and its halting head are linears, its memory MLP not."""
    columns = cost.n_matrices * cost.d_model + cost.n_layers * (cost.d_ff - cost.d_model)
    if cost.memory_hidden:  # the memory MLP (d -> h -> d) out, the gates (d ->3) in
        columns -= cost.n_layers * cost.memory_hidden
        columns += cost.d_model
    return columns


def vptq_work(work: pass_cost.Work, stage, cost, p, extra: float) -> None:
    """Calibration forwards, k-means and the GPTQ-ordered assignment."""
    length = costs.suite_batch_length(p.eval.levels, 1, 256, cost.vocab_size)
    calls = cost.n_matrices * cost.recursions * cost.supervision_steps  # hooked linear calls
    for _ in range(stage.calibration_samples):
        work.flops += length * cost.forward_flops_per_token(round(length))
        work.ops += evomerge_cost.forward_ops(cost, length, extra) + HESSIAN_OPS_PER_CALL * calls
    work.flops += stage.calibration_samples * length * 2 * cost.d_model * cost.matrix_params
    vectors = cost.matrix_params / stage.vector_len
    centroids = min(stage.codebook, vectors) + min(stage.residual, vectors)
    work.flops += stage.kmeans_iters * vectors * centroids * (2 * stage.vector_len + 4)
    work.flops += cost.matrix_params * (2 * centroids + 2 * GPTQ_BLOCK)
    columns = target_columns(cost)
    per_column = VPTQ_OPS_PER_COLUMN + (VPTQ_RESIDUAL_OPS_PER_COLUMN if stage.residual else 0)
    work.ops += per_column * columns + VPTQ_OPS_PER_BLOCK * math.ceil(columns / GPTQ_BLOCK)


def hyper_work(work: pass_cost.Work, stage, cost) -> None:
    """The nearest trajectory point of every group of d weights."""
    side = 1
    while stage.points * (side + 1) ** stage.pair_size <= 2**stage.bits:
        side += 1
    points = stage.points * side**stage.pair_size
    groups = cost.matrix_params / stage.pair_size
    work.flops += groups * points * (2 * stage.pair_size + 2) * ELEMENTWISE_COST / 2
    work.ops += 10 * math.ceil(groups * points / HYPER_CHUNK) + 10 * cost.n_matrices


def phase_work(p, first, cost) -> tuple[pass_cost.Work, list[bool], float]:
    """Every pass of the phase, which stages run, and the matrices' bits at the end."""
    applied, bits = applied_stages(p.stages, first, cost)
    work = pass_cost.Work()
    stored = STORED_FORM_OPS * cost.n_matrices  # a forward through stored forms adds this
    extra = stored if input_matrix_bits(first, cost) < 32 else 0.0
    evomerge_cost.heldout_work(work, cost, p.eval, cost.vocab_size, extra=extra)
    for _ in range(max(1, sum(applied))):  # each applied stage's output, or the output
        evomerge_cost.heldout_work(work, cost, p.eval, cost.vocab_size,
                                   extra=stored if any(applied) else extra)
    for stage, run in zip(p.stages, applied, strict=True):
        if not run:
            continue
        if stage.type == "seedlm":
            seedlm_work(work, stage, cost)
        elif stage.type == "vptq":
            vptq_work(work, stage, cost, p, extra)
        else:
            hyper_work(work, stage, cost)
        extra = stored
    return work, applied, bits


def peak_bytes(p, first, cost, device) -> int:
    """Models and weights the kernel holds at once, the input's measurement (its heap stays
    resident) and the largest buffers of a stage that runs."""
    held = STATE_COPIES * costs.FP32 * cost.params
    applied, _ = applied_stages(p.stages, first, cost)
    ran = [s for s, a in zip(p.stages, applied, strict=True) if a]
    stage_buffers = 0
    if any(s.type == "vptq" for s in ran):  # float32 XᵀX of every layer, vectors
        inputs = cost.n_matrices * cost.d_model**2 + cost.n_layers * (cost.d_ff**2
                                                                      - cost.d_model**2)
        stage_buffers = costs.FP32 * (inputs + 2 * cost.matrix_params) + (
            KMEANS_BUFFERS * costs.FP32 * HYPER_CHUNK)
    elif ran:
        stage_buffers = 8 * costs.FP32 * SEEDLM_CHUNK // 8
    return int(held + stage_buffers + evomerge_cost.measure_bytes(cost, p.eval)
               + costs.overhead(device))
