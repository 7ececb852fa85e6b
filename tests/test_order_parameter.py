"""The one order-parameter type: validation, the 10 % rule, the round trip through a dict."""

import json

import numpy as np
import pytest
import torch
from e3nn import o3

from engine.order_parameter import OrderParameter, axis_pair


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_axis_pair_is_e3nn_harmonics(rng):
    """axis_pair(a, b) is Y_2(â) − Y_2(b̂) in e3nn's basis (its formula is written out)."""
    a, b = rng.normal(size=(2, 3))
    y = o3.spherical_harmonics(2, torch.as_tensor(np.stack([a, b])), normalize=True).numpy()
    np.testing.assert_allclose(axis_pair(a, b).blocks[2], y[0] - y[1], atol=1e-15)


def test_axis_pair_is_x2_minus_y2(rng):
    """For x and y, the input as a function on the sphere is k (x² − y²) with k > 0."""
    c = axis_pair((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)).blocks[2]
    u = rng.normal(size=(50, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    values = o3.spherical_harmonics(2, torch.as_tensor(u), normalize=True).numpy() @ c
    k = np.linalg.lstsq((u[:, 0] ** 2 - u[:, 1] ** 2)[:, None], values, rcond=None)[0][0]
    assert k > 0
    np.testing.assert_allclose(values, k * (u[:, 0] ** 2 - u[:, 1] ** 2), atol=1e-12)


def test_axis_pair_names_and_rejects():
    assert axis_pair((0, 0, 2), (-1, 0, 0)).description == "L=2, even, ∝ z² − x²"
    assert "·r" in axis_pair((1, 1, 0), (0, 0, 1)).description
    with pytest.raises(ValueError, match="non-zero"):
        axis_pair((0, 0, 0), (0, 1, 0))
    with pytest.raises(ValueError, match="parallel"):
        axis_pair((0, 1, 0), (0, -2, 0))


def test_significant_keeps_degrees_with_ten_percent():
    """Degrees carrying at least 10 % of the norm, largest first, whatever the scale."""
    blocks = {1: [0.05, 0, 0], 2: [0, 0, 1.0, 0, 0], 4: 0.3 * np.eye(9)[0]}
    for scale in (1.0, 1e-6):
        found = OrderParameter({l: scale * np.asarray(c) for l, c in blocks.items()}, "learned", "")
        assert [l for l, _ in found.significant()] == [2, 4]
        assert sum(found.shares().values()) == pytest.approx(100.0)


def test_round_trip_through_json():
    per_point = OrderParameter({0: np.arange(4.0)[:, None], 1: np.ones((4, 3))}, "vertex group", "weights", "C2v")
    back = OrderParameter.from_dict(json.loads(json.dumps(per_point.to_dict())))
    assert back.irreps == "0e+1o" and back.num_points == 4 and back.symmetry == "C2v"
    np.testing.assert_array_equal(back.values, per_point.values)


def test_signal_of_a_global_input():
    found = axis_pair((1, 0, 0), (0, 1, 0))
    signal = found.signal(5)
    assert signal.shape == (36,) and np.count_nonzero(signal[:4]) == 0
    np.testing.assert_array_equal(signal[4:9], found.blocks[2])
    with pytest.raises(ValueError, match="above lmax"):
        found.signal(1)


@pytest.mark.parametrize("blocks, origin, message", [
    ({2: [1.0, 2.0]}, "learned", "shape"),
    ({}, "learned", "at least one"),
    ({1: [np.nan, 0, 0]}, "learned", "NaN"),
    ({1: [1.0, 0, 0]}, "magic", "origin"),
    ({0: [[1.0]], 1: [1.0, 0, 0]}, "learned", "all global or all per point"),
    ({-1: [1.0]}, "learned", "degrees"),
])
def test_bad_order_parameters_are_refused(blocks, origin, message):
    with pytest.raises(ValueError, match=message):
        OrderParameter(blocks, origin, "")
    with pytest.raises(ValueError):
        OrderParameter.from_dict({"blocks": {str(l): np.asarray(c).tolist() for l, c in blocks.items()},
                                  "origin": origin})


def test_pickles_for_a_worker_process():
    import pickle

    found = pickle.loads(pickle.dumps(OrderParameter({1: np.ones((4, 3))}, "learned", "per point")))
    assert found.num_points == 4 and found.irreps == "1o" and not found.is_global


# --- descriptions in the object's own axes ------------------------------------------------------

TETRAHEDRON = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)
OCTAHEDRON = np.vstack([np.eye(3), -np.eye(3)])


def test_a_stretched_bond_is_named_by_its_own_axis():
    """Methane with the (1, 1, 1) bond stretched: L=1 along that bond, not along a hidden z."""
    from engine.symmetry import order_parameter

    methane = np.vstack([np.zeros(3), TETRAHEDRON])
    stretched = methane.copy()
    stretched[1] *= 1.2
    found = order_parameter(methane, stretched, types=[6, 1, 1, 1, 1])
    assert found.description == "L=1, odd, along (0.58, 0.58, 0.58)" and found.symmetry == "C3v"
    turned = order_parameter(methane * [1, 1, -1], stretched * [1, 1, -1], types=[6, 1, 1, 1, 1])
    assert turned.description == "L=1, odd, along (0.58, 0.58, −0.58)"


def test_a_triaxial_ellipsoid_is_written_in_the_object_axes(rng):
    """The L=2 input of an octahedron stretched three ways: x, y, z terms of the object, which
    follow a known rotation of the object; no hidden frame."""
    from scipy.spatial.transform import Rotation

    from engine.symmetry import order_parameter
    from helpers import described_polynomial

    scale = [1.5, 1.0, 1.03]
    found = order_parameter(OCTAHEDRON, OCTAHEDRON * scale)
    assert found.description == "L=2, even, ∝ x² − 0.54y² − 0.46z²" and found.symmetry == "D2h"
    quarter = Rotation.from_euler("x", 90, degrees=True).as_matrix()  # y → z, z → −y
    turned = order_parameter(OCTAHEDRON @ quarter.T, OCTAHEDRON * scale @ quarter.T)
    assert turned.description == "L=2, even, ∝ x² − 0.46y² − 0.54z²"
    rotation = Rotation.from_rotvec([0.3, -0.5, 0.7]).as_matrix()
    general = order_parameter(OCTAHEDRON @ rotation.T, OCTAHEDRON * scale @ rotation.T)
    assert "main axis" not in general.description
    u = rng.normal(size=(200, 3))
    signal = o3.spherical_harmonics(2, torch.as_tensor(u), normalize=False).numpy() @ general.blocks[2]
    named = described_polynomial(general.description, u)
    assert signal @ named / np.linalg.norm(signal) / np.linalg.norm(named) > 0.99  # small terms left out
