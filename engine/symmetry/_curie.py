"""Curie's principle: the subgroup of the start's symmetry that a displacement keeps."""

from dataclasses import dataclass

import numpy as np
import torch
from e3nn import o3

from ._groups import PointGroup, _points, _rms, _subgroup, point_group


@dataclass(frozen=True, eq=False)
class CurieReport:
    """Which symmetries of the start a displacement field keeps.

    Parameters
    ----------
    start_group : `PointGroup`
        symmetry of the start (with its types and any extra feature).
    kept : `PointGroup`
        subgroup of ``start_group`` whose operations satisfy :math:`d_{\\pi(i)} = R d_i`.
    broken : `numpy.ndarray`
        indices into ``start_group.operations`` of the operations that the target breaks.
    """

    start_group: PointGroup
    kept: PointGroup
    broken: np.ndarray

    @property
    def kept_name(self):
        return self.kept.name

    @property
    def kept_order(self):
        return self.kept.order

    @property
    def learnable(self):
        """Curie's principle allows the target exactly when every operation is kept."""
        return len(self.broken) == 0


def curie_check(start, target, types=None, *, feature=None, tolerance=1e-3):
    """Subgroup of the start's symmetry that the displacement :math:`d = x^{target} - x^{start}` keeps.

    An operation :math:`(R, \\pi)` of the start is kept when

    .. math:: |d_{\\pi(i)} - R\\, d_i| \\le \\epsilon\\, r_{rms} \\quad \\text{for every point } i.

    An equivariant network can reach the target exactly when all operations are kept.

    Parameters
    ----------
    start, target : array_like
        shape ``(N, 3)``; point ``i`` of the start moves to point ``i`` of the target.
    types : array_like, optional
        see `point_group`.
    feature : tuple of (int, array_like), optional
        an extra input ``(l, coefficients)`` of parity :math:`(-1)^l`, global ``(2l+1,)`` or per
        point ``(N, 2l+1)`` (e.g. an `OrderParameter`'s). It restricts the start's group to the
        operations with :math:`D^l(R) c_i = c_{\\pi(i)}`.
    tolerance : float
        relative tolerance :math:`\\epsilon`.

    Returns
    -------
    `CurieReport`
    """
    x0, x1 = _start_and_target(start, target)
    group = point_group(x0, types, tolerance=tolerance)
    if feature is not None:
        group = _subgroup(group, _keeps_feature(group, feature, len(x0), tolerance))
    d = x1 - x0
    moved = np.einsum("kab,nb->kna", group.operations, d)
    error = np.abs(d[group.permutations] - moved).max(axis=(1, 2))
    kept = error <= tolerance * _rms(x0 - x0.mean(axis=0))
    return CurieReport(group, _subgroup(group, kept), np.flatnonzero(~kept))


def _start_and_target(start, target):
    x0, x1 = _points(start, "start"), _points(target, "target")
    if x0.shape != x1.shape:
        raise ValueError(f"start and target must have the same shape, but got {x0.shape} and {x1.shape}")
    return x0, x1


def _wigner_d(l, ops):
    """e3nn's :math:`D^l(R)` of parity :math:`(-1)^l`, shape ``(K, 2l+1, 2l+1)``, so that
    :math:`Y^l(R x) = D^l(R)\\, Y^l(x)`."""
    R = torch.as_tensor(np.asarray(ops), dtype=torch.float64)
    return o3.Irrep(l, (-1) ** l).D_from_matrix(R).numpy()


def _keeps_feature(group, feature, n, tolerance):
    """Mask of the operations with :math:`D^l(R) c_i = c_{\\pi(i)}` within tolerance."""
    l, coefficients = feature
    if not (isinstance(l, (int, np.integer)) and l >= 0):
        raise ValueError(f"feature's l must be an integer >= 0, but got {l!r}")
    c = np.asarray(coefficients, dtype=float)
    if c.shape not in ((2 * l + 1,), (n, 2 * l + 1)):
        shapes = f"({2 * l + 1},) or ({n}, {2 * l + 1})"
        raise ValueError(f"feature with l={l} must have shape {shapes}, but got {c.shape}")
    c = np.broadcast_to(c, (n, 2 * l + 1))
    moved = np.einsum("kab,nb->kna", _wigner_d(l, group.operations), c)
    error = np.abs(c[group.permutations] - moved).max(axis=(1, 2))
    return error <= tolerance * np.abs(c).max()
