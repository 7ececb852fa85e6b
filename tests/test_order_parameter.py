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
