r"""Does pairing point :math:`i` of a start with point :math:`i` of a target look right?

Training moves point :math:`i` to target point :math:`i`, so a target that is offset, turned,
another shape, or the same shape with its points in another order is accepted as a motion. These
checks flag such a target, each relative to the start's own size, so that they hold at any scale.
Numpy only (no torch, no scipy): cheap enough to run before every training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import check_pair

__all__ = ["Pairing", "check_pairing"]

SAMPLE = 512   # points whose neighbour is found (fixed, random), and
POOL = 4096    # points it is searched among: the cost is SAMPLE × POOL distances at any size


@dataclass(frozen=True)
class Pairing:
    r"""What :func:`check_pairing` measured on a start :math:`s` and a target :math:`t` of
    :math:`N` points, with centres :math:`\bar s, \bar t` and the start's RMS radius
    :math:`R = \sqrt{\tfrac1N \sum_i |s_i - \bar s|^2}`:

    .. math::
        \mathrm{largest} = \max_i |t_i - s_i| / R, \qquad
        \mathrm{shift} = |\bar t - \bar s| / R, \qquad
        \mathrm{spread} = \mathrm{median}_i\, |(t_i - s_i) - (\bar t - \bar s)| / R,

    and the *scatter* of a point set :math:`x`, how far apart neighbours of the start land in it
    compared with random pairs :math:`p(i)`,

    .. math::
        \mathrm{scatter}(x) = \mathrm{median}_i\, |x_i - x_{n(i)}| \,/\, \mathrm{median}_i\, |x_i - x_{p(i)}|,

    with :math:`n(i)` the point of the start nearest to :math:`s_i` (coincident ones left out)
    among :data:`POOL` fixed random ones, over :data:`SAMPLE` fixed random points :math:`i`.
    Any smooth deformation keeps neighbours near (``target_scatter`` stays near
    ``start_scatter``, small on a fine mesh); a reordered target sends them to random places
    (``target_scatter`` near 1).
    """

    radius: float          # R, in the start's units
    distance: float        # |t̄ - s̄|, in the start's units
    largest: float         # max |t_i - s_i| / R; the rest as in the formulas
    shift: float
    spread: float
    start_scatter: float   # scatter(s)
    target_scatter: float  # scatter(t)

    STILL = 1e-6      # no point moves more than this (float32 rounding): the target is the start
    SHIFT = 0.5       # a centre moved by more than half the RMS radius: the target looks misplaced
    SPREAD = 1.0      # points moving farther than the RMS radius, the offset aside: another shape or pose
    FINE = 0.45       # the start is fine enough to tell its neighbours from random pairs
    SCATTERED = 0.7   # neighbours land nearly as far apart as random pairs: another point order

    @property
    def still(self) -> bool:
        return self.largest <= self.STILL

    @property
    def reordered(self) -> bool:
        return self.start_scatter <= self.FINE and self.target_scatter >= self.SCATTERED

    def warnings(self, start: str = "the start", target: str = "the target") -> list[str]:
        """One sentence for each check that fails, naming the point sets ``start`` and ``target``."""
        if self.still:
            return [f"no point moves: {target} is where {start} is"]
        found = []
        if self.shift > self.SHIFT:
            found.append(f"the centre of {target} is {self.distance:.3g} from that of {start}, "
                         f"{self.shift:.2g}× its RMS radius, and that offset becomes motion")
        if self.spread > self.SPREAD:
            found.append(f"the points of {target} lie a median {self.spread:.2g}× the RMS radius of {start} "
                         f"from their partners, the offset aside: it has another shape, or is turned or scaled")
        if self.reordered:
            found.append(f"neighbouring points of {start} land in {target} about as far apart as random "
                         f"pairs ({self.target_scatter:.2g} of their distance, against {self.start_scatter:.2g} "
                         f"in {start}): its points look to be in another order")
        return found


def check_pairing(start, target) -> Pairing:
    """The measures of :class:`Pairing` for ``(N, 3)`` start and target points (``ValueError``
    for anything that is not such a pair).

    >>> square = [[1, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]]
    >>> beside = check_pairing(square, [[x + 3, y, z] for x, y, z in square])
    >>> round(beside.shift, 3), beside.spread, len(beside.warnings())
    (2.121, 0.0, 1)
    """
    start, target = check_pair(start, target)
    centre = start.mean(axis=0)
    offset = target.mean(axis=0) - centre
    radius = float(np.sqrt(np.mean(np.sum((start - centre) ** 2, axis=1))))
    distance = float(np.linalg.norm(offset))
    if radius == 0.0:  # a start of coincident points has no size to compare with
        return Pairing(radius=0.0, distance=distance, largest=np.inf, shift=0.0, spread=0.0,
                       start_scatter=1.0, target_scatter=1.0)
    rng = np.random.default_rng(0)
    n = len(start)
    chosen, pool = rng.permutation(n)[:SAMPLE], rng.permutation(n)[:POOL]
    neighbour = _nearest(start - centre, chosen, pool, coincident=(1e-6 * radius) ** 2)
    partner = (chosen + rng.integers(1, n, size=len(chosen))) % n
    moved = target - start
    return Pairing(radius=radius, distance=distance, largest=float(np.linalg.norm(moved, axis=1).max()) / radius,
                   shift=distance / radius, spread=float(np.median(np.linalg.norm(moved - offset, axis=1))) / radius,
                   start_scatter=_scatter(start, chosen, neighbour, partner),
                   target_scatter=_scatter(target, chosen, neighbour, partner))


def _nearest(points: np.ndarray, chosen: np.ndarray, pool: np.ndarray, coincident: float) -> np.ndarray:
    r"""For each chosen point, the index of the nearest point of ``pool`` farther from it than
    :math:`\sqrt{coincident}` (itself when there is none), from :math:`|a - b|^2 = |a|^2 + |b|^2 - 2\,a\cdot b`."""
    a, b = points[chosen], points[pool]
    d2 = np.sum(a ** 2, axis=1)[:, None] + np.sum(b ** 2, axis=1)[None, :] - 2.0 * a @ b.T
    d2[d2 <= coincident] = np.inf
    return np.where(np.isfinite(d2).any(axis=1), pool[np.argmin(d2, axis=1)], chosen)


def _scatter(points: np.ndarray, chosen: np.ndarray, neighbour: np.ndarray, partner: np.ndarray) -> float:
    """Median neighbour distance over median random-pair distance (0 when every pair coincides)."""
    near = np.median(np.linalg.norm(points[chosen] - points[neighbour], axis=1))
    far = np.median(np.linalg.norm(points[chosen] - points[partner], axis=1))
    return float(near / far) if far > 0 else 0.0
