"""VPTQ: seeded weighted k-means, the calibration Hessian, GPTQ error feedback, residual
codebooks and the index round trip."""

import torch
from torch import nn

from runtime.compression import vptq
from runtime.compression.hessian import input_hessians
from runtime.compression.kmeans import kmeans, nearest


def _proxy_loss(weight, rebuilt, hessian):
    """tr((W - Q) H (W - Q)ᵀ): the output error GPTQ minimises."""
    diff = (weight - rebuilt).double()
    return float(torch.trace(diff @ hessian.double() @ diff.T))


def test_kmeans_is_deterministic_and_weighted():
    data = torch.randn(200, 4, generator=torch.Generator().manual_seed(0))
    weights = torch.rand(200, generator=torch.Generator().manual_seed(1))
    assert torch.equal(kmeans(data, weights, 8, 5, seed=3), kmeans(data, weights, 8, 5, seed=3))
    one = kmeans(data, weights, 1, 2, seed=0)  # one centroid: the weighted mean
    assert torch.allclose(one[0], (data * weights[:, None]).sum(0) / weights.sum(), atol=1e-5)
    heavy = torch.ones(200)
    heavy[:10] = 1000.0  # the first ten vectors dominate: they are fitted best
    books = kmeans(data, heavy, 16, 10, seed=0)
    err = (data - books[nearest(data, books)]).pow(2).sum(1)
    assert float(err[:10].mean()) < float(err[10:].mean())


def test_nearest_matches_brute_force():
    data = torch.randn(300, 3, generator=torch.Generator().manual_seed(4))
    books = torch.randn(17, 3, generator=torch.Generator().manual_seed(5))
    brute = torch.cdist(data, books).argmin(dim=1)
    assert torch.equal(nearest(data, books), brute)


def test_input_hessians_are_two_xxt_over_tokens():
    torch.manual_seed(0)

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.proj = nn.Embedding(10, 6), nn.Linear(6, 3)

        def forward(self, input_ids):
            return self.proj(self.embed(input_ids))

    model = Tiny()
    sequences = [[1, 2, 3], [4, 5]]
    h = input_hessians(model, ["proj"], sequences, "cpu")["proj"]
    x = torch.cat([model.embed(torch.tensor(s)) for s in sequences]).detach()
    assert torch.allclose(h, 2 * x.T @ x / 5, atol=1e-5)


def _case(seed=0, out=16, inp=32):
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(out, inp, generator=g)
    mix = torch.randn(inp, inp, generator=g)
    x = torch.randn(400, inp, generator=g) @ mix  # correlated inputs
    return weight, 2 * x.T @ x / 400


def test_error_feedback_lowers_the_output_error():
    weight, hessian = _case()
    spec = vptq.VptqSpec(vector_len=4, codebook=16, kmeans_iters=10)
    books = vptq.train_codebooks([(weight, torch.diag(hessian))], spec, seed=0)
    with_feedback = vptq.quantise(weight, vptq.inverse_factor(hessian), books, 4)[0]
    without = vptq.quantise(weight, torch.eye(32), books, 4)[0]  # no error is fed forward

    def rebuilt(index):
        return books.main[index].reshape(32, 16).T

    assert _proxy_loss(weight, rebuilt(with_feedback), hessian) < _proxy_loss(
        weight, rebuilt(without), hessian)


def test_encode_decode_round_trip_and_residual_codebook_helps():
    weight, hessian = _case(seed=1, out=13)  # 13 rows: padded to 16
    errors = {}
    for residual in (0, 16):
        spec = vptq.VptqSpec(vector_len=4, codebook=16, residual=residual, kmeans_iters=8)
        scaled = weight / vptq.rms_scale(weight)
        books = vptq.train_codebooks([(scaled, torch.diag(hessian))], spec, seed=0)
        names = ("main", "res" if residual else None)
        code = vptq.encode(weight, hessian, books, spec, names)
        shared = {"main": books.main.half()} | ({"res": books.residual.half()} if residual else {})
        rebuilt = vptq.decode(code, shared)
        assert rebuilt.shape == weight.shape
        layout = vptq.layout(code.meta, tuple(weight.shape))
        assert {k: v[0] for k, v in layout.items()} == {k: tuple(t.shape)
                                                        for k, t in code.tensors.items()}
        errors[residual] = _proxy_loss(weight, rebuilt, hessian)
    assert errors[16] < errors[0]


def test_index_past_the_codebook_is_refused():
    weight, hessian = _case(seed=2)
    spec = vptq.VptqSpec(vector_len=4, codebook=16, kmeans_iters=2)
    books = vptq.train_codebooks([(weight, torch.diag(hessian))], spec, seed=0)
    code = vptq.encode(weight, hessian, books, spec, ("main", None))
    import pytest

    with pytest.raises(ValueError, match="past the codebook"):
        vptq.decode(code, {"main": books.main[:3].half()})
