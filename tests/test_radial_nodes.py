"""The radial MLPs' nodes: the interpolated features at the distinct lengths against the MLPs
themselves, the refinement the check asks for, and the gradient's map as the transpose."""

import math

import pytest
import torch

from engine.graph import radial_basis
from engine.network.radial import RadialMLPs
from engine.network.radial_nodes import TOLERANCE, EveryLength, Interpolated, radial_nodes

MAX_RADIUS, NUMBER = 1.5, 8
SPACING = MAX_RADIUS / (NUMBER - 1)


def _mlps(dtype: torch.dtype, roughness: float = 1.0) -> tuple[RadialMLPs, list[torch.Tensor]]:
    """The seed's MLPs for three convolutions, their hidden weights times ``roughness``."""
    mlps = RadialMLPs(NUMBER, 100, 3, [11, 99, 69], torch.Generator().manual_seed(0)).to(dtype)
    weights = mlps.unflatten(mlps.flat())
    return mlps, [w * roughness for w in weights[:-1]] + weights[-1:]


def _settled(nodes: EveryLength, mlps: RadialMLPs, weights: list[torch.Tensor]) -> tuple[EveryLength, torch.Tensor]:
    """The nodes refined until the check passes, and the MLPs' features there."""
    while True:
        features = mlps.features(weights, nodes.basis)
        finer = nodes.finer(features, lambda basis: mlps.features(weights, basis))
        if finer is None:
            return nodes, features
        nodes = finer


def _lengths(n: int, dtype: torch.dtype) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``n`` distinct lengths on the basis range, 0 among them, read in three chunks."""
    lengths = torch.cat([torch.zeros(1), torch.rand(n - 1, generator=torch.Generator().manual_seed(1)) * MAX_RADIUS])
    rows = list(torch.randperm(n, generator=torch.Generator().manual_seed(2)).tensor_split(3))
    return lengths.to(dtype), rows


def _nodes(lengths: torch.Tensor, rows: list[torch.Tensor], mlps: RadialMLPs) -> EveryLength:
    return radial_nodes(lengths, rows, SPACING, lambda r: mlps.stacked_basis(radial_basis(r, MAX_RADIUS, NUMBER)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_interpolated_features_are_the_mlps_to_the_working_precision(dtype):
    """On 20,000 lengths the nodes, once checked, give every length's features within a few times
    the tolerance of each MLP's largest feature (float64: far under the 1e-10 of the executors'
    agreement with plain e3nn), from a small share of the lengths; length 0 exactly."""
    mlps, weights = _mlps(dtype)
    lengths, rows = _lengths(20_000, dtype)
    nodes, features = _settled(_nodes(lengths, rows, mlps), mlps, weights)
    assert isinstance(nodes, Interpolated) and nodes.num_nodes < 2_000
    exact = mlps.features(weights, mlps.stacked_basis(radial_basis(lengths, MAX_RADIUS, NUMBER)))
    for f, e in zip(features, exact):
        for c, r in enumerate(rows):
            error = (nodes.chunk(c, f) - e[r]).abs().amax()
            assert error <= 4 * TOLERANCE[dtype] * e.abs().amax()
    zero = int((lengths == 0).nonzero()[0, 0])
    c = next(c for c, r in enumerate(rows) if zero in r.tolist())
    at_zero = nodes.chunk(c, features[0])[rows[c].tolist().index(zero)]
    assert torch.equal(at_zero, features[0][0])


def test_rougher_mlps_get_more_nodes_until_every_length_is_one():
    """The check refines the nodes for sharper MLPs (hidden weights 1.5x: more pieces), and gives up
    for every distinct length once the nodes would be as many as half of them."""
    lengths, rows = _lengths(20_000, torch.float64)
    pieces = {}
    for roughness in (1.0, 1.5):
        mlps, weights = _mlps(torch.float64, roughness)
        nodes, _ = _settled(_nodes(lengths, rows, mlps), mlps, weights)
        assert isinstance(nodes, Interpolated)
        pieces[roughness] = nodes.per_spacing
    assert pieces[1.5] > pieces[1.0]
    mlps, weights = _mlps(torch.float64, 3.0)
    few, few_rows = _lengths(1_500, torch.float64)
    nodes, features = _settled(_nodes(few, few_rows, mlps), mlps, weights)
    assert type(nodes) is EveryLength and features.shape[1] == 1_500


def test_few_lengths_are_every_length():
    """Under four nodes a length (two a piece, and their checks, at most half), no interpolation."""
    mlps, _ = _mlps(torch.float64)
    lengths, rows = _lengths(100, torch.float64)
    assert type(_nodes(lengths, rows, mlps)) is EveryLength


def test_the_gradient_goes_back_through_the_transpose():
    """<Lambda v, g> = <v, Lambda^T g> over every chunk, for node values v and lengths' gradient g."""
    mlps, _ = _mlps(torch.float64)
    lengths, rows = _lengths(5_000, torch.float64)
    nodes = _nodes(lengths, rows, mlps)
    assert isinstance(nodes, Interpolated)
    generator = torch.Generator().manual_seed(3)
    v = torch.randn(nodes.num_nodes, 4, generator=generator, dtype=torch.float64)
    g = torch.randn(len(lengths), 4, generator=generator, dtype=torch.float64)
    forward = sum(float((nodes.chunk(c, v) * g[r]).sum()) for c, r in enumerate(rows))
    assert math.isclose(forward, float((v * nodes.to_nodes(g)).sum()), rel_tol=1e-12)
