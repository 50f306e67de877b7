"""Hyper-compression: the ergodic trajectory, nearest-point indices, stored bits."""

import pytest
import torch

from runtime.compression import hyper


@pytest.mark.parametrize("d", [1, 2, 3])
def test_direction_is_the_root_of_the_kronecker_polynomial(d):
    alpha = hyper.direction(d)
    phi = 1 / float(alpha[0])
    assert phi ** (d + 1) == pytest.approx(phi + 1, rel=1e-12)
    points = hyper.trajectory(500, d, 2)
    assert points.shape == (500, d) and float(points.min()) >= 0 and float(points.max()) < 2
    assert torch.equal(points, hyper.trajectory(500, d, 2))  # deterministic


def test_trajectory_fills_the_square_evenly():
    points = hyper.trajectory(6400, 2, 2)
    cells = torch.histc((points[:, 0].floor() * 2 + points[:, 1].floor()), bins=4, min=0, max=3)
    assert float(cells.min()) > 0.9 * 1600  # each unit square gets about `points` points


def test_side_fits_points_into_the_index_bits():
    assert hyper.HyperSpec(points=1600, bits=13).side() == 2  # 6400 <= 8192
    assert hyper.HyperSpec(points=1000, bits=12, pair_size=3).side() == 1
    with pytest.raises(ValueError, match="need more than"):
        hyper.HyperSpec(points=5000, bits=12).side()


def test_each_group_decodes_to_its_nearest_trajectory_point():
    spec = hyper.HyperSpec(points=200, bits=10)
    weight = torch.randn(6, 10, generator=torch.Generator().manual_seed(0))
    code = hyper.encode(weight, spec)
    rebuilt = hyper.decode(code)
    side = spec.side()
    span, offset = float(code.tensors["span"]), float(code.tensors["offset"])
    unit = ((weight.flatten() - offset) / span * side).view(-1, 2)
    grid = hyper.trajectory(spec.points * side**2, 2, side)
    nearest = grid[torch.cdist(unit, grid).argmin(dim=1)]
    assert torch.allclose(rebuilt.flatten().view(-1, 2), nearest / side * span + offset,
                          atol=1e-5)
    assert code.tensors["indices"].numel() == -(-30 * 10 // 8)  # 10 bits a pair, packed
    assert hyper.relative_error(weight, rebuilt) < 0.2


def test_index_past_the_trajectory_is_refused():
    spec = hyper.HyperSpec(points=3, bits=4, pair_size=1)  # side 5: 15 points, 16 indices
    code = hyper.encode(torch.randn(2, 4), spec)
    code.tensors["indices"] = torch.full_like(code.tensors["indices"], 255)
    with pytest.raises(ValueError, match="past the trajectory"):
        hyper.decode(code)
