r"""Spherical-harmonic signals: displacements encoded as signals, decoded from their peaks, and drawn.

A signal is a spherical tensor :math:`c = (c_{lm})_{l \le L}` with parity :math:`(-1)^l`
(e3nn's ``SphericalTensor(L, 1, -1)``) read as the function on the unit sphere

.. math::
    f(\hat u) = \sum_{l=0}^{L} \sum_{m=-l}^{l} c_{lm} Y_{lm}(\hat u)

with e3nn's real spherical harmonics (``normalization='integral'``; **y is the polar axis**).
A displacement :math:`\vec d` is the signal with a single peak of height :math:`|\vec d|` in
the direction of :math:`\vec d`; decoding finds the peaks of :math:`f`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from e3nn import o3
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .results import Surfaces

__all__ = [
    "signal_dim",
    "spherical_harmonics",
    "encode",
    "sphere_grid",
    "evaluate",
    "Peaks",
    "decode",
    "Surfaces",
    "surfaces",
]


def signal_dim(lmax: int) -> int:
    """Number of coefficients of a signal with degrees ``0..lmax``: :math:`(L+1)^2`."""
    return (lmax + 1) ** 2


def lmax_of(dim: int) -> int:
    """Inverse of :func:`signal_dim`; raises ``ValueError`` for a size that is not a square."""
    lmax = int(round(dim**0.5)) - 1
    if lmax < 0 or signal_dim(lmax) != dim:
        raise ValueError(f"A signal has (lmax+1)^2 coefficients, got {dim}")
    return lmax


def spherical_harmonics(lmax: int, directions: np.ndarray) -> np.ndarray:
    r"""Real spherical harmonics :math:`Y_{lm}(\hat u)` for ``l = 0..lmax`` of ``(..., 3)`` vectors.

    Vectors are normalised first; a zero vector gives :math:`Y_{00}` only.
    Returns ``(..., (lmax+1)^2)`` in float64.
    """
    u = torch.as_tensor(np.array(directions, dtype=np.float64))
    return o3.spherical_harmonics(list(range(lmax + 1)), u, normalize=True).numpy()


def encode(displacements: np.ndarray, lmax: int = 5) -> np.ndarray:
    r"""Signals whose single peak is :math:`\vec d`: height :math:`|\vec d|` along :math:`\hat d`.

    .. math::
        c = |\vec d| \, \frac{Y(\hat d)}{\|Y(\hat d)\|^2}
        \quad\Rightarrow\quad f(\hat d) = c \cdot Y(\hat d) = |\vec d|

    Equal to e3nn's ``SphericalTensor(lmax, 1, -1).with_peaks_at`` for one vector; a zero
    displacement gives the zero signal.

    Parameters
    ----------
    displacements : array of shape ``(..., 3)``
    lmax : int

    Returns
    -------
    array of shape ``(..., (lmax+1)^2)``
    """
    d = np.asarray(displacements, dtype=np.float64)
    if d.shape[-1:] != (3,):
        raise ValueError(f"Displacements must have shape (..., 3), got {d.shape}")
    y = spherical_harmonics(lmax, d)
    norm = np.linalg.norm(d, axis=-1, keepdims=True)
    return norm * y / np.sum(y * y, axis=-1, keepdims=True)


@functools.lru_cache(maxsize=8)
def _icosphere(level: int) -> tuple[np.ndarray, np.ndarray]:
    t = (1.0 + 5.0**0.5) / 2.0
    vertices = np.array(
        [[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t],
         [0, -1, -t], [0, 1, -t], [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]],
        dtype=np.float64,
    )
    faces = np.array(
        [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4],
         [11, 10, 2], [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8],
         [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]],
        dtype=np.int64,
    )
    for _ in range(level):
        edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
        unique, inverse = np.unique(edges, axis=0, return_inverse=True)
        midpoints = len(vertices) + inverse.reshape(3, -1).T  # (F, 3): midpoints of edges 01, 12, 20
        vertices = np.concatenate([vertices, vertices[unique].mean(axis=1)])
        a, b, c = faces.T
        ab, bc, ca = midpoints.T
        faces = np.concatenate([np.stack(f, axis=1) for f in
                                ([a, ab, ca], [ab, b, bc], [ca, bc, c], [ab, bc, ca])])
    vertices = vertices / np.linalg.norm(vertices, axis=1, keepdims=True)
    vertices.flags.writeable = False
    faces.flags.writeable = False
    return vertices, faces


def sphere_grid(level: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Icosphere: ``(V, 3)`` unit vectors and ``(F, 3)`` triangles, :math:`V = 10 \\cdot 4^k + 2`.

    Level 3 has 642 vertices (about 8° apart), level 4 has 2562.
    """
    if not 0 <= level <= 7:
        raise ValueError(f"Sphere grid level must be in 0..7, got {level}")
    return _icosphere(level)


def evaluate(signals: np.ndarray, directions: np.ndarray) -> np.ndarray:
    r"""Values :math:`f_s(\hat u_v)` of ``(S, D)`` signals at ``(V, 3)`` directions: ``(S, V)``."""
    signals = np.asarray(signals, dtype=np.float64)
    return signals @ spherical_harmonics(lmax_of(signals.shape[-1]), directions).T


@dataclass(frozen=True)
class Peaks:
    """Decoded signals.

    Attributes
    ----------
    displacements : ``(S, 3)`` the highest peak of each signal, :math:`f(\\hat u^*)\\,\\hat u^*`
    ambiguous : ``(S,)`` bool, several peaks within the tolerance of the highest
    peaks : list of ``(k_s, 3)`` arrays, every peak within the tolerance (the first is the highest)
    """

    displacements: np.ndarray
    ambiguous: np.ndarray
    peaks: list


@functools.lru_cache(maxsize=8)
def _neighbours(level: int) -> np.ndarray:
    """``(V, 6)`` grid neighbours of each icosphere vertex (the 12 five-fold ones repeat one)."""
    _, faces = sphere_grid(level)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.unique(np.concatenate([edges, edges[:, ::-1]]), axis=0)  # sorted by vertex
    counts = np.bincount(edges[:, 0])
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.minimum(np.arange(6)[None, :], counts[:, None] - 1)
    return edges[first[:, None] + slot, 1]


def _local_maxima(values: np.ndarray, vertex: np.ndarray, owner: np.ndarray, level: int) -> np.ndarray:
    """``(K,)`` mask of the entries ``values[vertex, owner]`` of ``(V, S)`` grid values that are
    not lower than any of their grid neighbours'."""
    neighbours = _neighbours(level)[vertex]
    mine = values[vertex, owner]
    keep = np.ones(len(vertex), dtype=bool)
    for k in range(neighbours.shape[1]):
        keep &= mine >= values[neighbours[:, k], owner]
    return keep


@functools.lru_cache(maxsize=8)
def _derivative_map(lmax: int) -> torch.Tensor:
    r"""``(3, (lmax)^2, (lmax+1)^2)`` map :math:`G` with :math:`\partial_i Y(\vec x) = G_i^\top Y'(\vec x)`.

    Here :math:`Y` are the harmonics up to ``lmax`` as homogeneous polynomials of
    :math:`\vec x` (``normalize=False``) and :math:`Y'` those up to ``lmax - 1``: a derivative of
    a harmonic polynomial of degree :math:`l` is harmonic of degree :math:`l - 1`. Fitted by
    least squares on random points, where the fit is exact (checked to 1e-12).
    """
    x = torch.randn(4 * (lmax + 1) ** 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    jacobian = torch.func.vmap(torch.func.jacrev(
        lambda v: o3.spherical_harmonics(list(range(lmax + 1)), v, normalize=False)))(x)  # (P, D, 3)
    basis = o3.spherical_harmonics(list(range(lmax)), x, normalize=False)  # (P, D')
    fit = torch.linalg.lstsq(basis[None].expand(3, -1, -1), jacobian.permute(2, 0, 1)).solution  # (3, D', D)
    residual = torch.einsum("pe,ied->pdi", basis, fit) - jacobian
    assert residual.abs().max() <= 1e-12 * max(1.0, jacobian.abs().max()), "derivatives are not harmonic"
    return fit


def _refine(coefficients: torch.Tensor, u: torch.Tensor, max_steps: int = 20) -> torch.Tensor:
    r"""Newton ascent of :math:`f(\hat u)` on the sphere from ``(K, 3)`` starts, one signal each.

    With :math:`F` the signal as a sum of homogeneous polynomials :math:`F_l`, the exact
    gradient and Hessian on the sphere at :math:`\hat u` in a tangent basis :math:`T` are
    :math:`g = T^\top \nabla F` and :math:`H = T^\top \nabla^2 F\, T - (\hat u \cdot \nabla F)\, I`,
    :math:`\hat u \cdot \nabla F = \sum_l l F_l` (derivatives from :func:`_derivative_map`).
    Then :math:`\hat u \leftarrow \mathrm{normalize}(\hat u + T\delta)` with
    :math:`\delta = -H^{-1} g` where :math:`H` is negative definite, else a gradient step,
    capped at 0.3 rad. A start stops once its step is below :math:`10^{-13}`.
    """
    lmax = lmax_of(coefficients.shape[-1])
    first = _derivative_map(lmax)  # (3, D', D)
    gradient_coefficients = torch.einsum("ied,kd->kie", first, coefficients)  # (K, 3, D')
    if lmax >= 2:  # d_j d_i Y = G'_j^T G_i^T Y''
        hessian_coefficients = torch.einsum("jfe,ied,kd->kijf", _derivative_map(lmax - 1), first, coefficients
                                            ).flatten(1, 2)  # (K, 9, D'')
    degree = torch.cat([torch.full((2 * l + 1,), float(l), dtype=u.dtype) for l in range(lmax + 1)])
    scale = coefficients.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    x_axis = torch.tensor([1.0, 0.0, 0.0], dtype=u.dtype)
    y_axis = torch.tensor([0.0, 1.0, 0.0], dtype=u.dtype)
    harmonics = o3.SphericalHarmonics(list(range(lmax + 1)), normalize=False, normalization="integral")
    u = u.clone()
    active = torch.arange(len(u))  # the moving starts; the per-start tensors hold only theirs
    for _ in range(max_steps):
        v = u[active]
        helper = torch.where(v[:, :1].abs() < 0.9, x_axis, y_axis)
        e1 = torch.nn.functional.normalize(torch.linalg.cross(v, helper), dim=-1)
        tangent = torch.stack([e1, torch.linalg.cross(v, e1)], dim=-1)  # (K, 3, 2)
        y = harmonics(v)  # |v| = 1
        gradient = (gradient_coefficients @ y[:, :lmax ** 2, None])[..., 0]  # (K, 3)
        radial = (coefficients * degree * y).sum(-1)  # u . grad F
        h = -radial[:, None, None] * torch.eye(2, dtype=u.dtype)
        if lmax >= 2:
            hessian = (hessian_coefficients @ y[:, :(lmax - 1) ** 2, None]).view(-1, 3, 3)
            h = h + tangent.transpose(1, 2) @ hessian @ tangent
        g = (tangent.transpose(1, 2) @ gradient[..., None])[..., 0]
        a, b, c = h[:, 0, 0], h[:, 0, 1], h[:, 1, 1]
        det = a * c - b * b
        concave = ((a < 0) & (det > 0))[:, None]  # both eigenvalues negative
        inverse = torch.stack([c, -b, -b, a], dim=-1).view(-1, 2, 2) / torch.where(concave, det[:, None], 1.0)[..., None]
        newton = -(inverse @ g[..., None])[..., 0]
        step = torch.where(concave, newton, g / (10.0 * scale))
        step = step * (0.3 / step.norm(dim=-1, keepdim=True).clamp_min(0.3))
        u.index_copy_(0, active, torch.nn.functional.normalize(v + (tangent @ step[..., None])[..., 0], dim=-1))
        moving = step.abs().amax(-1) >= 1e-13
        if not moving.any():
            break
        if not moving.all():
            active, coefficients, gradient_coefficients, scale = (
                active[moving], coefficients[moving], gradient_coefficients[moving], scale[moving])
            if lmax >= 2:
                hessian_coefficients = hessian_coefficients[moving]
    return u


def decode(signals: np.ndarray, *, tolerance: float = 1e-3, level: int = 3) -> Peaks:
    r"""Peaks of ``(S, D)`` signals; ties are reported, never resolved.

    Candidates are the local maxima of each signal on an icosphere of the given level,
    refined by Newton's method on the sphere. A peak is kept when its height is within
    ``tolerance`` × (largest :math:`|f|`) of the highest; two kept peaks make the signal
    ``ambiguous``. The displacement is :math:`f(\hat u^*)\,\hat u^*` for the highest peak
    :math:`\hat u^*`, and zero where the highest value is not positive. Signals are decoded in
    blocks, so memory stays bounded for any number of them.

    A signal without a direction decodes to no motion, never to ties: one whose
    :math:`l \ge 1` part is negligible, :math:`\|c_{l \ge 1}\| \le \mathrm{tolerance}\,\|c\|`
    (e.g. the :math:`L = 0` only output at a vertex with no neighbours: every direction ties),
    and one negligible against the set,
    :math:`\|c\|_\infty \le \mathrm{tolerance}\,\max_s \|c_s\|_\infty`
    (a vertex that does not move, whose small output may tie by symmetry).
    """
    signals = np.atleast_2d(np.asarray(signals, dtype=np.float64))
    if not np.isfinite(signals).all():
        raise ValueError(f"Signals must be finite, got NaN or infinite coefficients in "
                         f"{int((~np.isfinite(signals)).any(axis=-1).sum())} of {len(signals)}")
    signals = np.where(_directionless(signals, tolerance)[:, None], 0.0, signals)
    blocks = [_decode_block(signals[start:start + DECODE_BLOCK], tolerance, level)
              for start in range(0, len(signals), DECODE_BLOCK)]
    if not blocks:
        return Peaks(np.zeros((0, 3)), np.zeros(0, dtype=bool), [])
    displacements, ambiguous, peaks = zip(*blocks)
    return Peaks(np.concatenate(displacements), np.concatenate(ambiguous), [p for block in peaks for p in block])


DECODE_BLOCK = 8192


def _directionless(signals: np.ndarray, tolerance: float) -> np.ndarray:
    """``(S,)`` bool: signals whose direction is negligible (see :func:`decode`); norms taken of
    each signal over its largest coefficient, so that no size overflows."""
    size = np.abs(signals).max(axis=1, initial=0.0)
    unit = signals / np.where(size > 0, size, 1.0)[:, None]
    directed = np.linalg.norm(unit[:, 1:], axis=1) <= tolerance * np.linalg.norm(unit, axis=1)
    return directed | (size <= tolerance * size.max(initial=0.0))


def _decode_block(signals: np.ndarray, tolerance: float, level: int) -> tuple[np.ndarray, np.ndarray, list]:
    """:func:`decode` of a block of signals: its displacements, ambiguous and peaks."""
    lmax = lmax_of(signals.shape[1])
    grid, _ = sphere_grid(level)
    # candidates from float32 grid values of each signal over its largest coefficient (so no
    # size overflows), (V, S) so that neighbour look-ups read whole rows
    size = np.abs(signals).max(axis=1)
    unit = signals / np.where(size > 0, size, 1.0)[:, None]
    values = spherical_harmonics(lmax, grid).astype(np.float32) @ unit.T.astype(np.float32)
    top = values.max(axis=0)
    relative = np.maximum(top, -values.min(axis=0))
    scale = relative * size
    # far lower lobes can't win; local maxima are looked for among the rest only, above zero
    # (the smallest positive float32) and where the signal is not negligible
    floor = np.maximum(top - 0.1 * relative, np.nextafter(np.float32(0), np.float32(1)))
    vertex, owner = np.nonzero(values >= np.where(scale > 1e-12, floor, np.inf).astype(np.float32))
    local = _local_maxima(values, vertex, owner, level)
    owner, vertex = owner[local], vertex[local]
    displacements = np.zeros((len(signals), 3))
    ambiguous = np.zeros(len(signals), dtype=bool)
    peaks = [np.zeros((1, 3))] * len(signals)
    if not len(owner):
        return displacements, ambiguous, peaks
    u = _refine(torch.as_tensor(signals[owner]), torch.as_tensor(grid[vertex])).numpy()
    height = np.einsum("kd,kd->k", signals[owner], spherical_harmonics(lmax, u))
    order = np.lexsort((-height, owner))  # each signal's candidates, highest first
    owner, u, height = owner[order], u[order], height[order]
    first = np.concatenate([[True], owner[1:] != owner[:-1]])
    top = height[first][np.cumsum(first) - 1]
    near_top = np.bincount(owner[height >= top - tolerance * scale[owner]], minlength=len(signals))
    single = first & (near_top[owner] == 1)
    alone = owner[single]  # the signals with one peak
    displacements[alone] = height[single, None] * u[single]
    for s, peak in zip(alone.tolist(), displacements[alone, None]):
        peaks[s] = peak
    tied = near_top[owner] > 1
    for s, found in zip(*_ties(owner[tied], u[tied], height[tied], tolerance * scale)):
        displacements[s], ambiguous[s], peaks[s] = found[0], len(found) > 1, found
    return displacements, ambiguous, peaks


def _ties(owner: np.ndarray, u: np.ndarray, height: np.ndarray, tolerance: np.ndarray
          ) -> tuple[np.ndarray, list[np.ndarray]]:
    r"""Each signal's distinct peaks within ``tolerance[s]`` of its highest, highest first, as
    displacements, from ``(K,)`` candidates of the signals ``owner`` at ``(K, 3)`` directions:
    the signals that have candidates, and their peaks.

    Peaks of one signal closer than :math:`\hat u \cdot \hat v \ge 1 - 10^{-8}` (a chord of
    :math:`\sqrt{2 \cdot 10^{-8}}`) are one peak, kept at its highest: the clusters are the
    connected components of one k-d tree's close pairs over all signals (each signal's
    candidates 4 apart from the next one's along a fourth axis), so :math:`k` candidates cost
    :math:`O(k \log k)`.
    """
    if not len(owner):
        return owner, []
    order = np.lexsort((-height, owner))  # each signal's candidates, highest first
    owner, u, height = owner[order], u[order], height[order]
    first = np.concatenate([[True], owner[1:] != owner[:-1]])
    keep = height >= (height[first] - tolerance[owner[first]])[np.cumsum(first) - 1]
    owner, u, height = owner[keep], u[keep], height[keep]
    pairs = cKDTree(np.column_stack([u, 4.0 * owner])).query_pairs(np.sqrt(2e-8), output_type="ndarray")
    close = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(u), len(u)))
    _, cluster = connected_components(close, directed=False)
    distinct = np.sort(np.unique(cluster, return_index=True)[1])  # the highest of each cluster
    owner, peaks = owner[distinct], height[distinct, None] * u[distinct]
    signals, starts = np.unique(owner, return_index=True)
    return signals, np.split(peaks, starts[1:])


def surfaces(signals: np.ndarray, centers: np.ndarray | None = None, *, scale: float = 1.0,
             level: int = 3) -> Surfaces:
    """Drawable surfaces of ``(S, D)`` signals centred at ``(S, 3)`` points (origin by default)."""
    signals = np.atleast_2d(np.asarray(signals, dtype=np.float64))
    grid, faces = sphere_grid(level)
    values = evaluate(signals, grid)
    vertices = scale * np.abs(values)[..., None] * grid
    if centers is not None:
        vertices = vertices + np.asarray(centers, dtype=np.float64)[:, None, :]
    return Surfaces(vertices, np.array(faces), values)
