"""One compression stage: what it would store, and encoding the target layers.

Each stage reads every target's dense weight (the previous stage's decoded output, or
the input's) and encodes it; ``Outcome`` holds the new codes (and new shared
codebooks). Before encoding, ``predicted_bytes`` gives what the stage would store, from
the settings and shapes alone (``layout``): a stage that would not make the targets
smaller than they are now is skipped (the kernel records why).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from forgelang.kinds.compression import Hyper, SeedLM, Vptq
from runtime.compression import hyper, seedlm, vptq
from runtime.compression.codes import LayerCode, layout_bytes
from runtime.compression.hessian import input_hessians
from runtime.kernels import StopRequested
from runtime.phases.compression.state import State

CODEBOOK_BYTES = 2  # float16 centroids


@dataclass
class Outcome:
    """What a stage made: new codes by layer, new shared codebooks, layers it kept as they
    were (hyper-compression over ``max_error``), and each encoded layer's relative error."""

    codes: dict[str, LayerCode] = field(default_factory=dict)
    shared: dict[str, torch.Tensor] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)
    errors: dict[str, float] = field(default_factory=dict)


def seedlm_spec(stage: SeedLM) -> seedlm.SeedLMSpec:
    return seedlm.SeedLMSpec(stage.block, stage.latent, stage.seed_bits, stage.coef_bits,
                             stage.exponent_bits)


def vptq_spec(stage: Vptq) -> vptq.VptqSpec:
    return vptq.VptqSpec(stage.vector_len, stage.codebook, stage.residual, stage.kmeans_iters)


def hyper_spec(stage: Hyper) -> hyper.HyperSpec:
    return hyper.HyperSpec(stage.points, stage.bits, stage.pair_size, stage.max_error)


def _vptq_books(stage: Vptq, state: State) -> tuple[int, int]:
    """Centroids of the main and residual codebooks (never more than there are vectors)."""
    vectors = sum(w.shape[1] * vptq.padded_rows(w.shape[0], stage.vector_len)
                  // stage.vector_len for w in state.weights.values())
    return min(stage.codebook, vectors), (min(stage.residual, vectors) if stage.residual else 0)


def predicted_bytes(stage, state: State) -> int:
    """Bytes the stage would store for every target (shared codebooks included)."""
    shapes = [tuple(w.shape) for w in state.weights.values()]
    if isinstance(stage, SeedLM):
        meta = seedlm_spec(stage).meta()
        return sum(layout_bytes(seedlm.layout(meta, s)) for s in shapes)
    if isinstance(stage, Hyper):
        meta = hyper_spec(stage).meta()
        return sum(layout_bytes(hyper.layout(meta, s)) for s in shapes)
    main, res = _vptq_books(stage, state)
    meta = {"vector_len": stage.vector_len, "index_bits": vptq.index_bits(main)}
    if res:
        meta["residual_bits"] = vptq.index_bits(res)
    books = (main + res) * stage.vector_len * CODEBOOK_BYTES
    return books + sum(layout_bytes(vptq.layout(meta, s)) for s in shapes)


def encode_layers(state: State, encode: Callable[[str, torch.Tensor], LayerCode],
                  decode: Callable[[LayerCode], torch.Tensor], should_stop,
                  progress) -> Outcome:
    """``encode`` every target in order, recording its relative error; a stop request is
    honoured between layers (the stage then starts again on resume). ``progress(done,
    total, relative_error)`` follows each layer."""
    out = Outcome()
    names = list(state.weights)
    for i, name in enumerate(names):
        if should_stop():
            raise StopRequested("compression stopped between layers")
        code = encode(name, state.weights[name])
        out.codes[name] = code
        out.errors[name] = hyper.relative_error(state.weights[name], decode(code))
        progress(i + 1, len(names), out.errors[name])
    return out


def run_seedlm(stage: SeedLM, state: State, should_stop, progress) -> Outcome:
    """SeedLM codes of every target."""
    spec = seedlm_spec(stage)
    return encode_layers(state, lambda n, w: seedlm.encode(w, spec), seedlm.decode,
                         should_stop, progress)


def run_hyper(stage: Hyper, state: State, should_stop, progress) -> Outcome:
    """Hyper-compression codes; a layer over ``max_error`` keeps the form it had."""
    spec = hyper_spec(stage)
    out = encode_layers(state, lambda n, w: hyper.encode(w, spec), hyper.decode,
                        should_stop, progress)
    out.kept = [n for n, e in out.errors.items() if not e <= stage.max_error]
    for name in out.kept:
        del out.codes[name]
    return out


@dataclass(frozen=True)
class Calibration:
    """What VPTQ's Hessians are taken from: the current model and token sequences."""

    model: object
    sequences: list
    device: str


def run_vptq(stage: Vptq, state: State, key: str, seed: int, calibration: Calibration,
             should_stop, progress) -> Outcome:
    """Hessians from calibration, shared codebooks, then GPTQ-ordered codes of every target."""
    spec = vptq_spec(stage)
    hessians = input_hessians(calibration.model, list(state.weights), calibration.sequences,
                              calibration.device, should_stop)
    if should_stop():
        raise StopRequested("compression stopped during calibration")
    scaled = [(w / vptq.rms_scale(w), torch.diag(hessians[n])) for n, w in state.weights.items()]
    books = vptq.train_codebooks(scaled, spec, seed)
    names = (f"{key}_main", f"{key}_residual" if books.residual is not None else None)
    shared = {names[0]: books.main.half()}
    if books.residual is not None:
        shared[names[1]] = books.residual.half()
    out = encode_layers(state, lambda n, w: vptq.encode(w, hessians[n], books, spec, names),
                        lambda c: vptq.decode(c, shared), should_stop, progress)
    out.shared = shared
    return out


def bits_per_weight(codes: dict[str, LayerCode], shared: dict[str, torch.Tensor]) -> float:
    """Stored bits of ``codes`` (+ the codebooks given) per weight they stand for."""
    weights = sum(math.prod(c.shape) for c in codes.values())
    stored = sum(c.nbytes() for c in codes.values()) + sum(
        t.numel() * t.element_size() for t in shared.values())
    return 8 * stored / max(1, weights)
