r"""How large a radius graph is, found before it is built: edge counts, bounds, and a radius
chosen from the points themselves. Numpy here, scipy inside the functions, no torch.
"""

from __future__ import annotations

import math

import numpy as np

from .validation import check_graph_size

__all__ = ["MAX_EDGES", "MAX_TRAINING_EDGES", "count_edges", "check_graph", "fitting_radius", "suggest_radius",
           "isolated_points"]

MAX_EDGES = 2_000_000  # directed edges, loops included; inference runs them in chunks (1.5M measured: 1.3 GB, 13 s)
MAX_TRAINING_EDGES = 50_000  # training keeps per-edge tapes (50k edges, four channels: 1.2 GB, 2.4 s a step)
EDGE_SAMPLE = 4096  # points whose neighbours are counted to estimate the edges of a larger set
SUGGESTED_NEIGHBOURS = 12  # the default radius reaches about this many neighbours of a typical point


def _tree(positions: np.ndarray):
    from scipy.spatial import cKDTree

    return cKDTree(positions)


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
    return _count(_tree(positions), positions, radius, stop_above)


def _count(tree, positions: np.ndarray, radius: float, stop_above: float) -> int:
    """:func:`count_edges` on a built k-d tree of the positions."""
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
    tree = _tree(positions)
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
        r = \min\Big(\max\big(\mathrm{median}_i\, d_k(i),\; q_{99\%}\, d_1\big),\; r_{fit}\Big)

    with :math:`d_k(i)` the distance from point :math:`i` to its :math:`k`-th nearest other
    point (:math:`k` = ``neighbours``, so a typical point has about :math:`k` neighbours),
    :math:`d_1` to its nearest and :math:`q_{99\%}` its 99th percentile (the largest up to 100
    points), so that at most 1 % of the points are left without a neighbour: the few far ones
    of a mesh still see the whole through the hub (Suzanne's farthest pair of vertices asked for
    0.45 and 64 neighbours a vertex, where 99 % of its vertices have one within 0.31), and
    :math:`r_{fit}` the radius of ``limit`` edges (:func:`fitting_radius`;
    :data:`MAX_TRAINING_EDGES` for a radius to train with), which an outlier far from the
    rest may push against: :func:`isolated_points` names who is then left alone. Coincident
    points count as neighbours. The median is over :data:`EDGE_SAMPLE` fixed random points for
    larger sets.
    """
    positions = np.asarray(positions, dtype=np.float64)
    n = len(positions)
    if n < 2 or not np.ptp(positions, axis=0).any():
        raise ValueError(f"A graph radius needs at least 2 distinct points, got {n} points at one place")
    tree = _tree(positions)
    k = min(neighbours, n - 1)
    sample = positions[np.random.default_rng(0).permutation(n)[:EDGE_SAMPLE]]
    typical = float(np.median(tree.query(sample, k=k + 1)[0][:, k]))
    nearest = float(np.quantile(tree.query(positions, k=2)[0][:, 1], 0.99, method="higher"))
    radius = max(typical, nearest)
    if _count(tree, positions, radius, limit) > limit:
        radius = fitting_radius(positions, limit)
    return radius


def isolated_points(positions: np.ndarray, radius: float | None) -> np.ndarray:
    """Indices of the points with no other point within ``radius`` (none for all pairs)."""
    positions = np.asarray(positions, dtype=np.float64)
    if radius is None or len(positions) < 2:
        return np.zeros(0, dtype=np.int64)
    distance = _tree(positions).query(positions, k=2)[0][:, 1]
    return np.flatnonzero(distance > radius)
