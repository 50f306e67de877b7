"""SeedLM: the chosen seed is the argmin over all seeds, decode(encode(w)) has the error
the search computed, and the stored bits are the formula's."""

import math

import torch

from runtime.compression import lfsr, seedlm


def _brute_force_errors(block: torch.Tensor, spec: seedlm.SeedLMSpec, base: int) -> list:
    """Quantised least-squares error of every seed, one seed at a time, in float64."""
    errors = []
    for seed in lfsr.orbit(spec.seed_bits).tolist():
        u = lfsr.basis(torch.tensor([seed]), spec.seed_bits, spec.block, spec.latent)[0]
        fit = torch.linalg.lstsq(u.double(), block.double().unsqueeze(1)).solution.squeeze(1)
        q, e = seedlm.quantise(fit.float(), base, spec)
        rebuilt = u.double() @ (q.double() * 2.0 ** float(e))
        errors.append(float((rebuilt - block.double()).pow(2).sum()))
    return errors


def test_chosen_seed_is_the_argmin_over_all_seeds():
    spec = seedlm.SeedLMSpec(block=4, latent=2, seed_bits=6, coef_bits=4, exponent_bits=4)
    blocks = torch.randn(12, 4, generator=torch.Generator().manual_seed(0)) * 0.1
    base = seedlm._top_exponent(blocks, spec) - 15
    best = seedlm.search(blocks, spec, base)
    orbit = lfsr.orbit(spec.seed_bits).tolist()
    for b in range(blocks.shape[0]):
        errors = _brute_force_errors(blocks[b], spec, base)
        chosen = orbit.index(int(best["seed"][b]))
        assert errors[chosen] <= min(errors) + 1e-7
        assert math.isclose(float(best["error"][b]), errors[chosen], rel_tol=1e-3, abs_tol=1e-7)


def test_decode_of_encode_has_the_error_the_search_computed():
    spec = seedlm.SeedLMSpec(block=8, latent=3, seed_bits=8)
    weight = torch.randn(16, 24, generator=torch.Generator().manual_seed(1)) * 0.05
    code = seedlm.encode(weight, spec)
    rebuilt = seedlm.decode(code)
    assert rebuilt.shape == weight.shape
    blocks = seedlm._blocks(weight, spec.block)
    best = seedlm.search(blocks, spec, code.meta["base"])
    assert torch.allclose((rebuilt.flatten().view(-1, 8) - blocks).pow(2).sum(1), best["error"],
                          rtol=1e-3, atol=1e-8)
    assert float((rebuilt - weight).norm() / weight.norm()) < 0.5  # a fit, not noise


def test_stored_bits_are_the_formula_and_encoding_is_deterministic():
    spec = seedlm.SeedLMSpec(block=8, latent=3, seed_bits=10, coef_bits=4, exponent_bits=4)
    weight = torch.randn(32, 64, generator=torch.Generator().manual_seed(2))
    first, second = seedlm.encode(weight, spec), seedlm.encode(weight, spec)
    assert 8 * first.nbytes() / weight.numel() == (10 + 4 + 4 * 3) / 8  # 3.25
    assert first.meta == second.meta
    assert all(torch.equal(first.tensors[k], second.tensors[k]) for k in first.tensors)


def test_padding_blocks_and_no_exponent_round_trip():
    spec = seedlm.SeedLMSpec(block=5, latent=2, seed_bits=6, exponent_bits=0)
    weight = torch.randn(7, 3, generator=torch.Generator().manual_seed(3))  # 21 = 4*5 + 1
    code = seedlm.encode(weight, spec)
    assert "exponents" not in code.tensors
    assert seedlm.decode(code).shape == (7, 3)
    layout = seedlm.layout(code.meta, (7, 3))
    assert {k: v[0] for k, v in layout.items()} == {k: tuple(t.shape)
                                                    for k, t in code.tensors.items()}
