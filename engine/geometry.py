r"""Everything a point set fixes for the network: its graph, edge harmonics and radial basis.

For an edge :math:`j \to i` with :math:`\vec r_{ij} = \vec x_j - \vec x_i` the convolution
uses

.. math::
    Y(\hat r_{ij}) \quad\text{(component-normalised, } l = 0..L\text{)}, \qquad
    B_k(|\vec r_{ij}|) = \cos^2\!\Big(\frac{\pi}{2}\,\frac{|\vec r_{ij}| - \mu_k}{\Delta}\Big)
    \;\text{for } |\,|\vec r_{ij}| - \mu_k| < \Delta,

the seed's squared cosine basis with centres :math:`\mu_k` spaced :math:`\Delta` apart on
``[0, max_radius]``. Neither changes while the points stay put, so they are computed once
per training rather than once per step.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from e3nn import o3
from e3nn.math import soft_one_hot_linspace
from scipy.spatial import cKDTree

__all__ = ["edges", "check_graph_size", "count_edges", "check_graph", "fitting_radius", "suggest_radius",
           "isolated_points", "radial_basis", "envelope", "Geometry"]

MAX_ALL_PAIRS = 100  # points; all pairs of more train slowly (150 points: 0.7 s a step)
MAX_EDGES = 2_000_000  # directed edges, loops included; inference streams them (1.5M measured: 1.7 GB, 120 s)
MAX_TRAINING_EDGES = 50_000  # training keeps per-edge tables (50k edges measured: 2.2 GB, about 5 s a step)
EDGE_SAMPLE = 4096  # points whose neighbours are counted to estimate the edges of a larger set
SUGGESTED_NEIGHBOURS = 12  # the default radius reaches about this many neighbours of a typical point


def check_graph_size(num_points: int, radius: float | None) -> None:
    """``ValueError`` for all pairs of more than :data:`MAX_ALL_PAIRS` points: use a radius graph,
    whose cost grows with its edges instead of :math:`N^2`."""
    if radius is None and num_points > MAX_ALL_PAIRS:
        raise ValueError(f"{num_points} points are too many to convolve over all pairs (at most "
                         f"{MAX_ALL_PAIRS}); set a graph radius")
    if radius is not None and not radius > 0:
        raise ValueError(f"The graph radius must be positive, got {radius}")


def count_edges(positions: np.ndarray, radius: float | None, *, stop_above: float = math.inf) -> int:
    r"""Directed edges of the graph, loops included, counted without building it: :math:`N^2`
    for all pairs, else :math:`\#\{(i, j) : |\vec x_i - \vec x_j| \le r\}`.

    Exact up to :data:`EDGE_SAMPLE` points; beyond, :math:`\frac{N}{m} \sum_{s} n_s` over the
    neighbour counts :math:`n_s` of :math:`m` = :data:`EDGE_SAMPLE` fixed random points (an
    estimate: the relative error is about :math:`\mathrm{std}(n) / (\bar n \sqrt m)`). When a
    first sample of 64 points already estimates more than ``stop_above``, that estimate is
    returned, so refusing a radius far too large costs little.
    """
    positions = np.asarray(positions, dtype=np.float64)
    n = len(positions)
    if radius is None:
        return n * n
    return _count(cKDTree(positions), positions, radius, stop_above)


def _count(tree: cKDTree, positions: np.ndarray, radius: float, stop_above: float) -> int:
    """:func:`count_edges` on a built tree."""
    n = len(positions)
    if n <= EDGE_SAMPLE:
        return int(tree.count_neighbors(tree, radius))
    chosen = np.random.default_rng(0).choice(n, EDGE_SAMPLE, replace=False)
    for m in (64, EDGE_SAMPLE):
        estimate = tree.query_ball_point(positions[chosen[:m]], radius, return_length=True).sum() * n / m
        if estimate > stop_above:
            break
    return int(round(estimate))


def fitting_radius(positions: np.ndarray, limit: int) -> float:
    """The largest radius (to 1 %) whose graph has at most ``limit`` edges by :func:`count_edges`;
    0 when not even the smallest does (more points than ``limit``)."""
    positions = np.asarray(positions, dtype=np.float64)
    tree = cKDTree(positions)
    high = float(np.linalg.norm(np.ptp(positions, axis=0)))  # every pair is closer than this
    low = high
    while _count(tree, positions, low, limit) > limit:  # halve down to a radius that fits
        high, low = low, low / 2
        if low < 1e-12 * high:
            return 0.0
    while high - low > 0.01 * high:
        middle = (low + high) / 2
        low, high = (middle, high) if _count(tree, positions, middle, limit) <= limit else (low, middle)
    return low


def check_graph(positions: np.ndarray, radius: float | None, limit: int = MAX_EDGES) -> int:
    """The graph's edge count (:func:`count_edges`), or ``ValueError`` when it exceeds ``limit``
    (:data:`MAX_EDGES`; :data:`MAX_TRAINING_EDGES` for training), naming a radius that fits."""
    positions = np.asarray(positions, dtype=np.float64)
    check_graph_size(len(positions), radius)
    if radius is not None and not math.isfinite(radius):
        raise ValueError(f"The graph radius must be finite, got {radius}")
    if len(positions) > limit:
        raise ValueError(f"{len(positions):,} points are more than a graph of at most {limit:,} edges can hold")
    count = count_edges(positions, radius, stop_above=limit)
    if count > limit:
        fit = fitting_radius(positions, limit)
        raise ValueError(f"A graph radius of {radius:.3g} links about {count:,} edges among {len(positions):,} "
                         f"points, more than the {limit:,} that fit in memory; a radius of {fit:.3g} or less fits")
    return count


def suggest_radius(positions: np.ndarray, neighbours: int = SUGGESTED_NEIGHBOURS, limit: int = MAX_EDGES) -> float:
    r"""A graph radius chosen from the point set itself.

    .. math::
        r = \min\Big(\max\big(\mathrm{median}_i\, d_k(i),\; \max_i d_1(i)\big),\; r_{fit}\Big)

    with :math:`d_k(i)` the distance from point :math:`i` to its :math:`k`-th nearest other
    point (:math:`k` = ``neighbours``, so a typical point has about :math:`k` neighbours),
    :math:`d_1` to its nearest, so that no point is left without a neighbour, and
    :math:`r_{fit}` the radius of ``limit`` edges (:func:`fitting_radius`;
    :data:`MAX_TRAINING_EDGES` for a radius to train with), which an outlier far from the
    rest may push against: :func:`isolated_points` names who is then left alone. Coincident points count as neighbours. The median is over
    :data:`EDGE_SAMPLE` fixed random points for larger sets.
    """
    positions = np.asarray(positions, dtype=np.float64)
    n = len(positions)
    if n < 2 or not np.ptp(positions, axis=0).any():
        raise ValueError(f"A graph radius needs at least 2 distinct points, got {n} points at one place")
    tree = cKDTree(positions)
    k = min(neighbours, n - 1)
    sample = positions[np.random.default_rng(0).permutation(n)[:EDGE_SAMPLE]]
    typical = float(np.median(tree.query(sample, k=k + 1)[0][:, k]))
    nearest = float(tree.query(positions, k=2)[0][:, 1].max())
    radius = max(typical, nearest)
    if _count(tree, positions, radius, limit) > limit:
        radius = fitting_radius(positions, limit)
    return radius


def isolated_points(positions: np.ndarray, radius: float | None) -> np.ndarray:
    """Indices of the points with no other point within ``radius`` (none for all pairs)."""
    positions = np.asarray(positions, dtype=np.float64)
    if radius is None or len(positions) < 2:
        return np.zeros(0, dtype=np.int64)
    distance = cKDTree(positions).query(positions, k=2)[0][:, 1]
    return np.flatnonzero(distance > radius)


def edges(positions: np.ndarray, radius: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Directed edges ``(source, destination)``, each point with itself included.

    ``radius=None`` gives all :math:`N^2` pairs (the seed); a radius gives the pairs closer
    than it, found with a k-d tree so memory grows with the number of edges, not :math:`N^2`.
    Edges are sorted by destination. More than :data:`MAX_EDGES` raise ``ValueError``
    (:func:`check_graph`), counted before any is built.
    """
    n = len(positions)
    check_graph(positions, radius)
    if radius is None:
        destination, source = np.divmod(np.arange(n * n), n)
        return source, destination
    pairs = cKDTree(positions).query_pairs(radius, output_type="ndarray")
    loops = np.arange(n)
    source = np.concatenate([pairs[:, 0], pairs[:, 1], loops])
    destination = np.concatenate([pairs[:, 1], pairs[:, 0], loops])
    order = np.argsort(destination, kind="stable")
    return source[order], destination[order]


def radial_basis(lengths: torch.Tensor, max_radius: float, number: int) -> torch.Tensor:
    """The seed's squared cosine basis of edge lengths on ``[0, max_radius]``: ``(..., number)``."""
    return soft_one_hot_linspace(lengths, 0.0, max_radius, number, basis="cosine", cutoff=False).pow(2)


def envelope(lengths: torch.Tensor, radius: float | None = None) -> torch.Tensor:
    r"""Edge weights :math:`s(|\vec r|)`: 1 over all pairs; on a radius graph, 1 up to half the
    radius, then :math:`\cos^2` down to 0 at the radius, so nothing jumps when a point crosses it.

    Edge harmonics are scaled by :math:`s` and messages divided by :math:`\sqrt n` with
    :math:`n = \frac1N \sum_e s(|\vec r_e|)` the mean number of neighbours (:math:`N` for all
    pairs: the seed's normalisation).
    """
    if radius is None:
        return torch.ones_like(lengths)
    fade = ((lengths / radius - 0.5) / 0.5).clamp(0.0, 1.0)
    return torch.cos(torch.pi / 2 * fade).pow(2)


class Geometry:
    """A point set's graph with its per-edge harmonics and radial basis, as tensors.

    Parameters
    ----------
    positions : ``(N, 3)`` array
    lmax : int, highest degree of the edge harmonics
    max_radius, number_of_basis : the radial basis
    radius : float or None, graph radius (None: all pairs)
    dtype : torch dtype of the tensors

    Attributes
    ----------
    source, destination : ``(E,)`` long tensors
    lengths : ``(E,)`` edge lengths
    harmonics : ``(E, (lmax+1)^2)``, scaled by the :func:`envelope`
    embedding, length_index : radial basis of the distinct edge lengths, and each edge's row
    neighbours : float, mean number of neighbours, weighted by :func:`envelope`
    all_pairs : bool, every pair: edge :math:`dN + s` runs from point :math:`s` to point :math:`d`
    """

    def __init__(self, positions: np.ndarray, *, lmax: int, max_radius: float, number_of_basis: int,
                 radius: float | None = None, dtype: torch.dtype = torch.float64):
        positions = np.asarray(positions, dtype=np.float64)
        source, destination = edges(positions, radius)
        self.num_points = len(positions)
        self.source = torch.as_tensor(source)
        self.destination = torch.as_tensor(destination)
        vectors = torch.as_tensor(positions[source] - positions[destination], dtype=dtype)
        weights = envelope(vectors.norm(dim=-1), radius)
        self.harmonics = weights[:, None] * o3.spherical_harmonics(list(range(lmax + 1)), vectors, normalize=True,
                                                                   normalization="component")
        self.lengths = vectors.norm(dim=-1)
        self._basis = (max_radius, number_of_basis)
        self.neighbours = float(weights.sum()) / len(positions)
        self.all_pairs = radius is None  # edge d N + s runs from s to d
        self._cache: dict = {}  # keyed by the module that built each entry

    @functools.cached_property
    def _distinct_lengths(self) -> tuple[torch.Tensor, torch.Tensor]:
        lengths, index = torch.unique(self.lengths, return_inverse=True)
        return radial_basis(lengths, *self._basis), index

    @property
    def embedding(self) -> torch.Tensor:
        """The radial basis of each distinct edge length, ``(L, number_of_basis)``: all pairs of
        :math:`N` points have at most :math:`N(N-1)/2 + 1`, as :math:`|\\vec r_{ij}| = |\\vec r_{ji}|`."""
        return self._distinct_lengths[0]

    @property
    def length_index(self) -> torch.Tensor:
        """``(E,)`` row of :attr:`embedding` for each edge."""
        return self._distinct_lengths[1]

    @property
    def num_edges(self) -> int:
        return len(self.source)

    def cached(self, key, build):
        """``build(self)``, built once per ``key``: for what depends only on the geometry."""
        if key not in self._cache:
            self._cache[key] = build(self)
        return self._cache[key]
