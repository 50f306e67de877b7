"""The Cognate parameter-count contract, checked against hand-computed numbers."""

import pytest

from forgelang.kinds.cognate_arch import (
    ARCH_PRESETS,
    TrmTitansMagArch,
    count_parameters,
    layer_parameters,
    matrix_parameters,
)


def test_smoke_count_by_hand():
    # d=32, V=108, N_p=4, d_ff=128, memory_hidden=32, 2 layers, tied head
    top = 108 * 32 + 4 * 32 + 2 * 32 + 32 + (32 + 1)  # 3456 + 128 + 64 + 32 + 33 = 3713
    layer = (4 * 32 + 4 * 32 * 32 + 3 * 32 * 32 + 2 * 32 * 32 + (3 * 32 + 3) + 32 * 32
             + 3 * 32 * 128)  # 128 + 4096 + 3072 + 2048 + 99 + 1024 + 12288 = 22755
    assert top == 3713 and layer == 22755
    assert layer_parameters("smoke") == 22755
    assert count_parameters("smoke") == top + 2 * layer == 49223


def test_full_count_by_hand_and_near_25m():
    d, v, dff, mh = 512, 8192, 1536, 512
    layer = 4 * d + 4 * d * d + 3 * d * d + 2 * d * mh + 3 * d + 3 + d * d + 3 * d * dff
    assert layer == 4_984_323  # 2048 + 1048576 + 786432 + 524288 + 1539 + 262144 + 2359296
    total = v * d + 8 * d + 2 * d + d + d + 1 + 4 * layer
    assert total == 24_137_741 == count_parameters("full")
    assert abs(total - 25_000_000) / 25_000_000 < 0.10


def test_untied_head_adds_vocab_times_width():
    tied = count_parameters({"type": "trm_titans_mag", "d_model": 64, "n_heads": 4})
    untied = count_parameters({"type": "trm_titans_mag", "d_model": 64, "n_heads": 4,
                               "tie_embeddings": False})
    assert untied - tied == 8192 * 64


def test_presets_land_on_their_scales():
    assert 40_000 <= count_parameters("smoke") <= 60_000
    assert 0.9e6 <= count_parameters("tiny") <= 1.1e6
    assert TrmTitansMagArch(**ARCH_PRESETS["full"]) == TrmTitansMagArch()


def test_matrix_share_excludes_embedding_norms_and_gates():
    a = TrmTitansMagArch(**ARCH_PRESETS["tiny"])
    d = a.d_model
    assert matrix_parameters(a) == a.n_layers * (8 * d * d + 2 * d * a.memory_hidden
                                                 + 3 * d * a.d_ff)
    assert matrix_parameters(a) < count_parameters(a) - a.vocab_size * d


def test_count_is_monotone_in_every_size():
    base = {"type": "trm_titans_mag", "d_model": 64, "n_heads": 4}
    n0 = count_parameters(base)
    for key, value in [("vocab_size", 9000), ("d_model", 128), ("n_layers", 5), ("d_ff", 2048),
                       ("memory_hidden", 1024), ("n_persistent", 16)]:
        assert count_parameters({**base, key: value}) > n0, key


def test_recursion_settings_do_not_change_the_count():
    base = {"type": "trm_titans_mag", "d_model": 64, "n_heads": 4}
    assert count_parameters({**base, "n_cycles": 5, "n_latent_steps": 2, "window": 7}) == \
        count_parameters(base)


@pytest.mark.parametrize("bad", [{"type": "other"}, {"n_heads": 3}])
def test_invalid_architectures_raise(bad):
    with pytest.raises(ValueError):
        count_parameters(bad)
