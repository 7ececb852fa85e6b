r"""Everything a point set fixes for the network: its graph, edge harmonics and radial basis.

For an edge :math:`j \to i` with :math:`\vec r_{ij} = \vec x_j - \vec x_i` the convolution
uses

.. math::
    Y(\hat r_{ij}) \quad\text{(component-normalised, } l = 0..L\text{)}, \qquad
    B_k(|\vec r_{ij}|) = \cos^2\!\Big(\frac{\pi}{2}\,\frac{|\vec r_{ij}| - \mu_k}{\Delta}\Big)
    \;\text{for } |\,|\vec r_{ij}| - \mu_k| < \Delta,

the seed's squared cosine basis with centres :math:`\mu_k` spaced :math:`\Delta` apart on
``[0, max_radius]``. Neither changes while the points stay put, so they are computed once
per training rather than once per step. A radius graph may have a hub (:func:`with_hub`).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from e3nn import o3
from e3nn.math import soft_one_hot_linspace
from scipy.spatial import cKDTree

from .config import ModelConfig
from .graph_size import check_graph

__all__ = ["edges", "with_hub", "radial_basis", "envelope", "Graph"]

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


def with_hub(positions: np.ndarray, source: np.ndarray, destination: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""The graph with a hub: point :math:`N` at the centroid :math:`\vec c`, joined both ways to
    every vertex and to itself. Returns the ``(N+1, 3)`` positions, the edges (sorted by
    destination) and which of them touch the hub.

    A network of :math:`L` convolutions over a radius graph sees a vertex's neighbourhood
    :math:`L r` deep, which cannot say where in the whole mesh it sits; through the hub, whose
    features after one convolution are the mean over every vertex, each vertex sees the
    vector :math:`\vec c - \vec x_i` and the whole set's shape. The centroid is fixed by every
    symmetry of the point set, so the network stays equivariant and Curie's check unchanged.
    """
    n = len(positions)
    vertices = np.arange(n)
    hub = np.full(n + 1, n)
    source = np.concatenate([source, vertices, hub])
    destination = np.concatenate([destination, hub[:n], np.append(vertices, n)])
    order = np.argsort(destination, kind="stable")
    through_hub = (source == n) | (destination == n)
    return np.vstack([positions, positions.mean(axis=0)]), source[order], destination[order], through_hub[order]


def radial_basis(lengths: torch.Tensor, max_radius: float, number: int) -> torch.Tensor:
    """The seed's squared cosine basis of edge lengths on ``[0, max_radius]``: ``(..., number)``."""
    return soft_one_hot_linspace(lengths, 0.0, max_radius, number, basis="cosine", cutoff=False).pow(2)


def envelope(lengths: torch.Tensor, radius: float | None = None) -> torch.Tensor:
    r"""Edge weights :math:`s(|\vec r|)`: 1 over all pairs; on a radius graph, 1 up to half the
    radius, then :math:`\cos^2` down to 0 at the radius, so nothing jumps when a point crosses it.

    Edges to and from a hub (:func:`with_hub`) weigh 1. Edge harmonics are scaled by :math:`s`,
    and the messages into point :math:`i` averaged: divided by
    :math:`n_i = \sum_{e \to i} s(|\vec r_e|)`, its number of neighbours. Sums of neighbours'
    features add up coherently (the scalar channels do), so e3nn's :math:`1/\sqrt n` lets a
    vertex's output grow as :math:`\sqrt{n_i}` per layer; the mean starts a dense vertex (a UV
    sphere's pole) at the scale of a sparse one.
    """
    if radius is None:
        return torch.ones_like(lengths)
    fade = ((lengths / radius - 0.5) / 0.5).clamp(0.0, 1.0)
    return torch.cos(torch.pi / 2 * fade).pow(2)


class Graph:
    r"""A point set's graph with its per-edge harmonics and radial basis, as tensors.

    Parameters
    ----------
    positions : ``(N, 3)`` array
    lmax : int, highest degree of the edge harmonics
    max_radius, number_of_basis : the radial basis
    radius : float or None, graph radius (None: all pairs)
    hub : bool, a radius graph with a hub (:func:`with_hub`) as its last point
    dtype : torch dtype of the tensors

    Attributes
    ----------
    num_vertices, num_points : the point set's points, and with the hub
    positions : ``(num_points, 3)`` float64 array, the hub's last
    source, destination : ``(E,)`` long tensors
    vectors : ``(E, 3)`` edge vectors :math:`\vec r_{ij}`
    lengths : ``(E,)`` edge lengths as the radial basis sees them: a hub edge's
        :math:`|\vec r|\, r_{\max} / \max_i |\vec x_i - \vec c|`, so that hub edges span the basis
        range at any mesh size
    scale : ``(E,)`` each edge's :func:`envelope` over :math:`n_i` of its destination :math:`i`
    harmonics : ``(E, (lmax+1)^2)`` edge harmonics times ``scale`` (computed on first use)
    embedding, length_index : radial basis of the distinct edge lengths, and each edge's row
    max_radius : float, the radial basis range
    neighbours : ``(N,)`` each point's number of neighbours :math:`n_i`, weighted by :func:`envelope`
    all_pairs : bool, every pair: edge :math:`dN + s` runs from point :math:`s` to point :math:`d`
    """

    @classmethod
    def of(cls, config: ModelConfig, positions: np.ndarray, dtype: torch.dtype = torch.float64) -> "Graph":
        """The graph a network with ``config`` convolves over on ``(N, 3)`` positions."""
        return cls(positions, lmax=config.lmax, max_radius=config.basis_range(positions),
                   number_of_basis=config.number_of_basis, radius=config.radius, hub=config.has_hub, dtype=dtype)

    def __init__(self, positions: np.ndarray, *, lmax: int, max_radius: float, number_of_basis: int,
                 radius: float | None = None, hub: bool = False, dtype: torch.dtype = torch.float64):
        if hub and radius is None:
            raise ValueError("A hub joins a radius graph: over all pairs every vertex sees every other already")
        positions = np.asarray(positions, dtype=np.float64)
        source, destination = edges(positions, radius)
        self.num_vertices = len(positions)
        through_hub = np.zeros(len(source), dtype=bool)
        if hub:
            positions, source, destination, through_hub = with_hub(positions, source, destination)
        self.num_points, self.hub, self.positions = len(positions), hub, positions
        self.source = torch.as_tensor(source)
        self.destination = torch.as_tensor(destination)
        vectors = torch.as_tensor(positions[source] - positions[destination], dtype=dtype)
        lengths = vectors.norm(dim=-1)
        on_hub = torch.as_tensor(through_hub)
        weights = torch.where(on_hub, 1.0, envelope(lengths, radius))
        self.neighbours = torch.zeros(len(positions), dtype=dtype).index_add_(0, self.destination, weights)
        self.scale = weights / self.neighbours[self.destination]
        self.vectors, self.lmax = vectors, lmax
        if hub:
            extent = max(float(np.linalg.norm(positions[:-1] - positions[-1], axis=1).max()), 1e-300)
            lengths = torch.where(on_hub, lengths * (max_radius / extent), lengths)
        self.lengths = lengths
        self.max_radius, self._basis = max_radius, (max_radius, number_of_basis)
        self.all_pairs = radius is None  # edge d N + s runs from s to d
        self._cache: dict = {}  # keyed by the module that built each entry

    @functools.cached_property
    def harmonics(self) -> torch.Tensor:
        """``(E, (lmax+1)^2)`` edge harmonics times :attr:`scale`, computed on first use: the edge
        frames (:mod:`~engine.network.rotated`) need only the scale, and at 1,000,000 points the
        harmonics alone are 1.3 GB."""
        return self.scale[:, None] * o3.spherical_harmonics(list(range(self.lmax + 1)), self.vectors, normalize=True,
                                                            normalization="component")

    @functools.cached_property
    def _distinct_lengths(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.unique(self.lengths, return_inverse=True)

    @property
    def distinct_lengths(self) -> torch.Tensor:
        """``(L,)`` the distinct edge lengths, rising: all pairs of :math:`N` points have at most
        :math:`N(N-1)/2 + 1`, as :math:`|\\vec r_{ij}| = |\\vec r_{ji}|`."""
        return self._distinct_lengths[0]

    @functools.cached_property
    def embedding(self) -> torch.Tensor:
        """The radial basis of each distinct edge length, ``(L, number_of_basis)``."""
        return self.basis_of(self.distinct_lengths)

    def basis_of(self, lengths: torch.Tensor) -> torch.Tensor:
        """The radial basis of any ``(n,)`` lengths, ``(n, number_of_basis)``."""
        return radial_basis(lengths, *self._basis)

    @property
    def basis_spacing(self) -> float:
        r"""The basis's centre spacing :math:`\Delta`: it is smooth between the multiples of :math:`\Delta`,
        only once differentiable at them."""
        max_radius, number = self._basis
        return max_radius / (number - 1)

    @property
    def length_index(self) -> torch.Tensor:
        """``(E,)`` row of :attr:`embedding` for each edge."""
        return self._distinct_lengths[1]

    @property
    def num_edges(self) -> int:
        return len(self.source)

    def padded(self, features: torch.Tensor) -> torch.Tensor:
        """``(N, D)`` vertex features with the hub's row, their mean, appended (as they are without a hub)."""
        return torch.cat([features, features.mean(0, keepdim=True)]) if self.hub else features

    def vertices(self, outputs: torch.Tensor) -> torch.Tensor:
        """The vertices' rows of ``(num_points, D)`` outputs: the hub's left out."""
        return outputs[:self.num_vertices]

    def squared_error(self, outputs: torch.Tensor, goal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The mean squared error of the vertices' outputs against ``(N, D)`` ``goal``, and its
        gradient with respect to the ``(num_points, D)`` outputs (0 on the hub's row)."""
        difference = self.vertices(outputs) - goal
        grad = torch.zeros_like(outputs)
        grad[:self.num_vertices] = difference * (2.0 / difference.numel())
        return difference.pow(2).mean(), grad

    def cached(self, key, build):
        """``build(self)``, built once per ``key``: for what depends only on the graph."""
        if key not in self._cache:
            self._cache[key] = build(self)
        return self._cache[key]
