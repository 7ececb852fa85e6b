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

from .config import ModelConfig
from .graph_size import check_graph

__all__ = ["edges", "radial_basis", "envelope", "Graph"]

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

    Edge harmonics are scaled by :math:`s`, and the messages into point :math:`i` averaged:
    divided by :math:`n_i = \sum_{e \to i} s(|\vec r_e|)`, its number of neighbours. Sums of
    neighbours' features add up coherently (the scalar channels do), so e3nn's :math:`1/\sqrt n`
    lets a vertex's output grow as :math:`\sqrt{n_i}` per layer; the mean starts a dense vertex
    (a UV sphere's pole) at the scale of a sparse one.
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
    dtype : torch dtype of the tensors

    Attributes
    ----------
    source, destination : ``(E,)`` long tensors
    vectors : ``(E, 3)`` edge vectors :math:`\vec r_{ij}`
    lengths : ``(E,)`` edge lengths
    harmonics : ``(E, (lmax+1)^2)``, scaled by the :func:`envelope` and by :math:`1/n_i` of
        the edge's destination :math:`i`
    embedding, length_index : radial basis of the distinct edge lengths, and each edge's row
    max_radius : float, the radial basis range
    neighbours : ``(N,)`` each point's number of neighbours :math:`n_i`, weighted by :func:`envelope`
    all_pairs : bool, every pair: edge :math:`dN + s` runs from point :math:`s` to point :math:`d`
    """

    @classmethod
    def of(cls, config: ModelConfig, positions: np.ndarray, dtype: torch.dtype = torch.float64) -> "Graph":
        """The graph a network with ``config`` convolves over on ``(N, 3)`` positions."""
        return cls(positions, lmax=config.lmax, max_radius=config.basis_range(positions),
                   number_of_basis=config.number_of_basis, radius=config.radius, dtype=dtype)

    def __init__(self, positions: np.ndarray, *, lmax: int, max_radius: float, number_of_basis: int,
                 radius: float | None = None, dtype: torch.dtype = torch.float64):
        positions = np.asarray(positions, dtype=np.float64)
        source, destination = edges(positions, radius)
        self.num_points = len(positions)
        self.source = torch.as_tensor(source)
        self.destination = torch.as_tensor(destination)
        vectors = torch.as_tensor(positions[source] - positions[destination], dtype=dtype)
        weights = envelope(vectors.norm(dim=-1), radius)
        self.neighbours = torch.zeros(len(positions), dtype=dtype).index_add_(0, self.destination, weights)
        scale = weights / self.neighbours[self.destination]
        self.harmonics = scale[:, None] * o3.spherical_harmonics(list(range(lmax + 1)), vectors, normalize=True,
                                                                 normalization="component")
        self.vectors = vectors
        self.lengths = vectors.norm(dim=-1)
        self.max_radius, self._basis = max_radius, (max_radius, number_of_basis)
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
        """``build(self)``, built once per ``key``: for what depends only on the graph."""
        if key not in self._cache:
            self._cache[key] = build(self)
        return self._cache[key]
