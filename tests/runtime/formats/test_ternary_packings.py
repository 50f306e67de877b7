"""``runtime.formats.ternary_packing``: base3 without a padding byte, 2bit, both exact."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

from runtime.formats.ternary import ForgeTernaryConfig, TernaryLinear, save_ternary
from runtime.formats.ternary_packing import (
    PACKINGS,
    invalid_bytes,
    pack_codes,
    packed_size,
    tail_bytes,
    unpack_codes,
)

SIZES = [1, 4, 5, 6, 429, 430, 431, 434, 999, 1000, 2048, 4099]


def _codes(n: int) -> torch.Tensor:
    return torch.randint(-1, 2, (n,), generator=torch.Generator().manual_seed(n)).to(torch.int8)


@pytest.mark.parametrize("packing", PACKINGS)
@pytest.mark.parametrize("n", SIZES)
def test_pack_then_unpack_is_exact_and_every_byte_is_valid(packing, n):
    codes = _codes(n)
    packed = pack_codes(codes, packing)
    assert packed.dtype == torch.uint8 and packed.numel() == packed_size(n, packing)
    assert torch.equal(unpack_codes(packed, n, packing), codes)
    assert invalid_bytes(packed, packing, n) == 0


@pytest.mark.parametrize("n", [430, 431, 999, 2048, 4099, 64 * 32, 768 * 3072 + 1])
def test_base3_takes_at_most_1_6_bits_a_code_without_a_padding_byte(n):
    assert packed_size(n, "base3") == n // 5 and 8 * packed_size(n, "base3") / n <= 1.6


def test_the_base3_tail_is_the_fewest_bytes_that_hold_its_codes():
    for rest in range(1, 5):
        size = tail_bytes(5 * 1000 + rest, "base3")
        assert 3 ** (5 * size + rest) <= 256**size
        assert 3 ** (5 * (size - 1) + rest) > 256 ** (size - 1)
    assert tail_bytes(4, "base3") == 0 and tail_bytes(1000, "base3") == 0


@pytest.mark.parametrize("n", [4, 999])
def test_2bit_takes_a_quarter_byte_a_code(n):
    assert packed_size(n, "2bit") == math.ceil(n / 4)


def test_a_base3_tail_number_out_of_range_is_invalid():
    packed = pack_codes(_codes(999), "base3")
    packed[-1] = 255  # the tail number of 429 codes in 85 bytes now exceeds 3^429
    assert invalid_bytes(packed, "base3", 999) > 0


@pytest.mark.parametrize("packing", PACKINGS)
def test_a_stored_model_round_trips_its_codes_in_either_packing(tmp_path, packing):
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=48, intermediate_size=96,
                         num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=64)
    model = LlamaForCausalLM(config).eval()
    save_ternary(model, None, tmp_path / packing, packing=packing)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / packing).eval()
    assert loaded.config.quantization_config.packing == packing
    ours = dict(model.named_modules())
    for name, layer in loaded.named_modules():
        if isinstance(layer, TernaryLinear):
            assert layer.packing == packing
            assert torch.equal(layer.codes, ours[name].codes)
            assert torch.equal(layer.scale, ours[name].scale)
    ids = torch.randint(0, 64, (1, 9), generator=torch.Generator().manual_seed(1))
    assert torch.equal(loaded(input_ids=ids).logits, model(input_ids=ids).logits)


def test_an_unknown_packing_is_refused():
    with pytest.raises(ValueError, match="packing"):
        ForgeTernaryConfig(modules=[], packing="base4")
