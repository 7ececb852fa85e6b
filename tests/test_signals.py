"""Signals: encoding displacements, decoding peaks, sphere grids and surfaces."""

import numpy as np
import pytest
import torch
from e3nn import io, o3

from engine import signals
from engine.network import hidden_irreps
from helpers import rotations, wigner

LMAX = 5


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def generic_signals(rng, count=12, lmax=LMAX):
    """Signals with one clear highest peak: an encoded vector plus a little of everything."""
    d = rng.normal(size=(count, 3))
    return signals.encode(d, lmax) + 0.05 * rng.normal(size=(count, signals.signal_dim(lmax)))


# --- equivariance ----------------------------------------------------------------------------


@pytest.mark.parametrize("R", rotations(), ids=lambda R: "inversion" if np.linalg.det(R) < 0 else "rotation")
def test_encode_equivariant(R, rng):
    """Rotating (or inverting) the displacement is the Wigner D of its signal."""
    d = rng.normal(size=(20, 3))
    D = wigner(hidden_irreps(LMAX), R)
    np.testing.assert_allclose(signals.encode(d @ R.T, LMAX), signals.encode(d, LMAX) @ D.T, rtol=0, atol=1e-10)


def test_encode_inversion_is_parity(rng):
    """Signals have parity (-1)^l: inverting d flips exactly the odd degrees."""
    d = rng.normal(size=(10, 3))
    l = np.concatenate([[l] * (2 * l + 1) for l in range(LMAX + 1)])
    np.testing.assert_allclose(signals.encode(-d, LMAX), signals.encode(d, LMAX) * (-1.0) ** l, atol=1e-12)


@pytest.mark.parametrize("R", rotations(1), ids=lambda R: "inversion" if np.linalg.det(R) < 0 else "rotation")
def test_decode_equivariant(R, rng):
    """decode(D(R) c) == R decode(c), for every listed peak too."""
    c = generic_signals(rng)
    D = wigner(hidden_irreps(LMAX), R)
    before, after = signals.decode(c), signals.decode(c @ D.T)
    np.testing.assert_array_equal(before.ambiguous, after.ambiguous)
    np.testing.assert_allclose(after.displacements, before.displacements @ R.T, rtol=0, atol=1e-10)
    for p, q in zip(before.peaks, after.peaks):
        np.testing.assert_allclose(q, p @ R.T, rtol=0, atol=1e-10)


def test_decode_ambiguous_ties_equivariant():
    """A tied pair rotates into a tied pair with the same peak set."""
    R = rotations(2)[0]
    x = np.array([1.0, 0.0, 0.0])
    c = signals.encode(x) + signals.encode(-x)
    before, after = signals.decode(c), signals.decode(c @ wigner(hidden_irreps(LMAX), R).T)
    assert before.ambiguous[0] and after.ambiguous[0]
    expected = before.peaks[0] @ R.T
    found = after.peaks[0]
    assert len(found) == len(expected)
    distance = np.linalg.norm(found[:, None] - expected[None], axis=-1)
    assert distance.min(axis=1).max() < 1e-8


# --- encoding and decoding round trip ------------------------------------------------------


@pytest.mark.parametrize("lmax", [1, 2, 3, 5, 8])
def test_round_trip(lmax, rng):
    """Random vectors decode back to themselves, unambiguously."""
    d = rng.normal(size=(30, 3)) * rng.uniform(0.01, 10, size=(30, 1))
    peaks = signals.decode(signals.encode(d, lmax))
    np.testing.assert_allclose(peaks.displacements, d, rtol=0, atol=1e-8 * np.abs(d).max())
    assert not peaks.ambiguous.any()
    assert all(len(p) == 1 for p in peaks.peaks)


def test_encode_peak_height_is_norm(rng):
    """The signal of d takes the value |d| in the direction of d, and no higher on a fine grid."""
    d = rng.normal(size=(8, 3))
    c = signals.encode(d)
    at_d = np.einsum("sd,sd->s", c, signals.spherical_harmonics(LMAX, d))
    np.testing.assert_allclose(at_d, np.linalg.norm(d, axis=1), rtol=1e-12)
    grid, _ = signals.sphere_grid(5)
    assert (signals.evaluate(c, grid).max(axis=1) <= at_d * (1 + 1e-12)).all()


def test_zero_vectors():
    """A zero displacement is the zero signal, decodes to zero, and is not ambiguous."""
    d = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    c = signals.encode(d)
    assert np.isfinite(c).all()
    np.testing.assert_array_equal(c[[0, 2]], 0.0)
    peaks = signals.decode(c)
    np.testing.assert_array_equal(peaks.displacements[[0, 2]], 0.0)
    np.testing.assert_allclose(peaks.displacements[1], d[1], atol=1e-10)
    assert not peaks.ambiguous.any()


def test_decode_zero_signal_alone():
    """Only zero signals: zero displacements, nothing ambiguous."""
    peaks = signals.decode(np.zeros((3, signals.signal_dim(LMAX))))
    np.testing.assert_array_equal(peaks.displacements, 0.0)
    assert not peaks.ambiguous.any()


def _same_directions(found, expected, atol=1e-6):
    u = found / np.linalg.norm(found, axis=1, keepdims=True)
    v = expected / np.linalg.norm(expected, axis=1, keepdims=True)
    return len(u) == len(v) and np.abs(u @ v.T - 1).min(axis=1).max() < atol and \
        np.abs(u @ v.T - 1).min(axis=0).max() < atol


def test_tied_pair_is_ambiguous():
    """encode(x) + encode(-x) has two equal peaks at ±x: flagged, both listed, never resolved."""
    x = np.array([0.3, -1.0, 0.7])
    peaks = signals.decode(signals.encode(x) + signals.encode(-x))
    assert peaks.ambiguous[0]
    assert _same_directions(peaks.peaks[0], np.stack([x, -x]))
    heights = np.linalg.norm(peaks.peaks[0], axis=1)
    np.testing.assert_allclose(heights, heights[0], rtol=1e-10)


def test_three_fold_tie_is_ambiguous():
    """Three vectors related by a 3-fold rotation give three tied peaks."""
    axis = np.array([0.0, 0.0, 1.0])
    d = np.array([1.0, 0.0, 0.4])
    turns = [o3.axis_angle_to_matrix(torch.as_tensor(axis), torch.tensor(2 * np.pi * k / 3, dtype=torch.float64))
             .numpy() for k in range(3)]
    ds = np.stack([R @ d for R in turns])
    peaks = signals.decode(signals.encode(ds).sum(axis=0))
    assert peaks.ambiguous[0]
    found = peaks.peaks[0]
    assert len(found) == 3
    for R in turns:  # the peaks form one orbit of the 3-fold rotation ...
        assert _same_directions(found @ R.T, found)
    # ... one peak beside each vector (the overlap of the lobes moves them off it a little)
    assert sorted(np.argmax(found @ ds.T, axis=1)) == [0, 1, 2]


def test_unequal_peaks_not_ambiguous():
    """Breaking the tie beyond the tolerance picks the higher peak."""
    x = np.array([1.0, 0.0, 0.0])
    peaks = signals.decode(signals.encode(x) + signals.encode(-0.9 * x))
    assert not peaks.ambiguous[0]
    assert _same_directions(peaks.displacements, x[None])


def test_encode_matches_e3nn_with_peaks_at(rng):
    """For one nonzero vector, encode is e3nn's SphericalTensor.with_peaks_at."""
    for d in rng.normal(size=(5, 3)):
        expected = io.SphericalTensor(LMAX, 1, -1).with_peaks_at(torch.as_tensor(d[None])).numpy()
        np.testing.assert_allclose(signals.encode(d, LMAX), expected, rtol=0, atol=1e-10)


def test_encode_shapes(rng):
    """encode keeps leading dimensions and rejects non-vectors."""
    assert signals.encode(rng.normal(size=(2, 4, 3)), 3).shape == (2, 4, 16)
    with pytest.raises(ValueError, match="shape"):
        signals.encode(np.zeros((4, 2)))


def test_lmax_of_rejects_non_squares():
    assert signals.lmax_of(36) == 5
    with pytest.raises(ValueError):
        signals.lmax_of(35)


# --- grids and surfaces ----------------------------------------------------------------------


@pytest.mark.parametrize("level", range(5))
def test_sphere_grid(level):
    """10·4^k + 2 unit vertices, 20·4^k triangles, every vertex used, a closed surface."""
    vertices, faces = signals.sphere_grid(level)
    assert vertices.shape == (10 * 4**level + 2, 3)
    assert faces.shape == (20 * 4**level, 3)
    np.testing.assert_allclose(np.linalg.norm(vertices, axis=1), 1.0, atol=1e-12)
    assert set(np.unique(faces)) == set(range(len(vertices)))
    assert len(vertices) - 3 * len(faces) // 2 + len(faces) == 2  # Euler characteristic of a sphere
    normals = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]])
    assert (np.einsum("fi,fi->f", normals, vertices[faces].mean(axis=1)) > 0).all()  # outward, consistent


def test_sphere_grid_rejects_levels():
    with pytest.raises(ValueError):
        signals.sphere_grid(-1)
    with pytest.raises(ValueError):
        signals.sphere_grid(8)


def test_evaluate_vectorised(rng):
    """evaluate over many signals equals one signal at a time, and is linear."""
    c = rng.normal(size=(5, 16))
    grid, _ = signals.sphere_grid(2)
    values = signals.evaluate(c, grid)
    assert values.shape == (5, len(grid))
    np.testing.assert_allclose(values[3], signals.evaluate(c[3:4], grid)[0])
    np.testing.assert_allclose(signals.evaluate(c[0] + 2 * c[1], grid), values[0] + 2 * values[1], atol=1e-12)


@pytest.mark.parametrize("scale", [1.0, 0.25])
def test_surfaces(scale, rng):
    """Shapes (S,V,3), shared faces (F,3), values (S,V); vertex distance = scale·|f| along u."""
    c = rng.normal(size=(7, 36))
    centers = rng.normal(size=(7, 3))
    grid, faces = signals.sphere_grid(2)
    surface = signals.surfaces(c, centers, scale=scale, level=2)
    assert surface.vertices.shape == (7, len(grid), 3)
    assert surface.faces.shape == (len(faces), 3)
    np.testing.assert_array_equal(surface.faces, faces)
    assert surface.values.shape == (7, len(grid))
    np.testing.assert_allclose(surface.values, signals.evaluate(c, grid))
    offset = surface.vertices - centers[:, None]
    np.testing.assert_allclose(np.linalg.norm(offset, axis=-1), scale * np.abs(surface.values), atol=1e-12)
    np.testing.assert_allclose(offset, scale * np.abs(surface.values)[..., None] * grid, atol=1e-12)


def test_surfaces_single_signal_at_origin():
    """One signal without centres: the origin; the peak vertex reaches |d|."""
    d = np.array([0.0, 0.0, 2.0])
    surface = signals.surfaces(signals.encode(d), level=3)
    assert surface.vertices.shape[0] == 1
    tip = surface.vertices[0, surface.values[0].argmax()]
    np.testing.assert_allclose(tip, d, atol=1e-10)


def test_surfaces_equivariant(rng):
    """Rotating the signal rotates its surface (as a set of vertices on the same grid values)."""
    c = generic_signals(rng, 1)
    R = rotations(3)[0]
    D = wigner(hidden_irreps(LMAX), R)
    grid, _ = signals.sphere_grid(3)
    # f'(u) = f(R^T u): evaluate the rotated signal on the rotated grid
    np.testing.assert_allclose(signals.evaluate(c @ D.T, grid @ R.T), signals.evaluate(c, grid), atol=1e-10)


# --- the order parameter ---------------------------------------------------------------------


# --- signals without a direction -------------------------------------------------------------


def test_scalar_only_signal_is_no_motion_not_642_ties():
    """The L = 0 only output of a vertex with no neighbours is constant on the sphere: no direction."""
    c = np.zeros((2, signals.signal_dim(LMAX)))
    c[0, 0] = 0.7
    c[1] = signals.encode(np.array([0.0, 0.0, 1.0]), LMAX)
    c[1, 0] += 0.7
    found = signals.decode(c)
    np.testing.assert_array_equal(found.displacements[0], 0.0)
    assert not found.ambiguous[0] and len(found.peaks[0]) == 1
    assert np.linalg.norm(found.displacements[1]) > 0.5  # a real direction next to it is kept


def test_still_vertex_with_a_tiny_symmetric_output_is_not_tied():
    """A vertex that does not move: its output is negligible against the set's, even where it ties."""
    d = np.array([[0.3, -0.2, 0.9]])
    tied = signals.encode(d, LMAX) + signals.encode(-d, LMAX)  # two equal peaks
    moving = signals.encode(np.array([[1.0, 0.0, 0.0]]), LMAX)
    assert signals.decode(tied).ambiguous[0]  # alone it is a real tie
    found = signals.decode(np.concatenate([1e-6 * tied, moving]))
    assert not found.ambiguous.any()
    np.testing.assert_array_equal(found.displacements[0], 0.0)
    np.testing.assert_allclose(found.displacements[1], [1.0, 0.0, 0.0], atol=1e-8)
