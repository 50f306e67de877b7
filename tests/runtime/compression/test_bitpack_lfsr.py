"""Bit packing at exact widths, and the LFSR: period 2^K - 1, determinism, bases."""

import math

import pytest
import torch

from runtime.compression import lfsr
from runtime.compression.bitpack import pack_bits, packed_bytes, unpack_bits


@pytest.mark.parametrize("bits", [1, 3, 4, 7, 8, 10, 13, 16, 20])
def test_pack_round_trip_at_exact_width(bits):
    values = torch.randint(0, 2**bits, (101,), generator=torch.Generator().manual_seed(bits))
    packed = pack_bits(values, bits)
    assert packed.dtype == torch.uint8 and packed.numel() == math.ceil(101 * bits / 8)
    assert packed.numel() == packed_bytes(101, bits)
    assert torch.equal(unpack_bits(packed, 101, bits), values)


def test_pack_refuses_values_out_of_range_and_short_streams():
    with pytest.raises(ValueError, match="codes must lie"):
        pack_bits(torch.tensor([8]), 3)
    with pytest.raises(ValueError, match="codes must lie"):
        pack_bits(torch.tensor([-1]), 3)
    with pytest.raises(ValueError, match="cannot hold"):
        unpack_bits(torch.zeros(2, dtype=torch.uint8), 10, 4)


@pytest.mark.parametrize("bits", range(4, 17))
def test_lfsr_visits_every_nonzero_state_once_per_period(bits):
    orbit = lfsr.orbit(bits)
    assert orbit.numel() == 2**bits - 1
    assert len(set(orbit.tolist())) == 2**bits - 1 and 0 not in set(orbit.tolist())
    assert lfsr.step(int(orbit[-1]), bits) == int(orbit[0])  # the period closes


def test_lfsr_run_is_deterministic_and_matches_the_orbit_windows():
    bits, block, latent = 8, 6, 2
    for seed in (1, 77, 200, 255):
        run = lfsr.states_from(seed, block * latent, bits)
        assert torch.equal(run, lfsr.states_from(seed, block * latent, bits))
        direct = lfsr.to_values(run, bits).view(block, latent)
        assert torch.equal(lfsr.basis(torch.tensor([seed]), bits, block, latent)[0], direct)
    seeds, bases = lfsr.bases_at(0, 2**bits, bits, block, latent)
    assert torch.equal(seeds, lfsr.orbit(bits))
    assert torch.equal(bases, lfsr.basis(seeds, bits, block, latent))
    assert float(bases.min()) >= -1 and float(bases.max()) < 1


def test_zero_seed_and_unknown_widths_are_refused():
    with pytest.raises(ValueError, match="non-zero"):
        lfsr.basis(torch.tensor([0]), 8, 4, 2)
    with pytest.raises(ValueError, match="not supported"):
        lfsr.orbit(30)
