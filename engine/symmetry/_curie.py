"""Curie's principle: the subgroup of the start's symmetry that a displacement keeps."""

from dataclasses import dataclass

import numpy as np
import torch
from e3nn import o3
from scipy.optimize import minimize_scalar

from ..validation import check_pair
from ._groups import _LINEAR_ORDER, PointGroup, _rms, _subgroup, _turned, point_group


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


def curie_check(start, target, types=None, *, feature=None, tolerance=1e-3, progress=None, cancel=None):
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
    feature : tuple of (int, array_like) or list of them, optional
        an extra input ``(l, coefficients)`` of parity :math:`(-1)^l`, global ``(2l+1,)`` or per
        point ``(N, 2l+1)`` (e.g. an `OrderParameter`'s), or a list of such blocks (e.g. a learned
        input with several degrees). It restricts the start's group to the operations with
        :math:`D^l(R) c_i = c_{\\pi(i)}` for every block.
    tolerance : float
        relative tolerance :math:`\\epsilon`.
    progress, cancel : callable, optional
        see `point_group`.

    Returns
    -------
    `CurieReport`

    Examples
    --------
    >>> square = [[1, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]]
    >>> rectangle = [[1.5, 1, 0], [-1.5, 1, 0], [-1.5, -1, 0], [1.5, -1, 0]]
    >>> report = curie_check(square, rectangle)
    >>> report.learnable, report.kept_name
    (False, 'D2h')
    """
    x0, x1 = check_pair(start, target)
    group = point_group(x0, types, tolerance=tolerance, progress=progress, cancel=cancel)
    return curie_report(group, x0, x1, feature, tolerance=tolerance)


def curie_report(group, x0, x1, feature=None, *, tolerance=1e-3):
    """`curie_check` on the start's known point ``group`` (so that one group serves several checks)."""
    blocks = _blocks(feature, len(x0))
    d = x1 - x0
    if group.infinite:
        group = _orient_linear(group, blocks + [(1, d)])
    if blocks:
        group = _subgroup(group, _keeps_feature(group, blocks, len(x0), tolerance))
    moved = np.einsum("kab,nb->kna", group.operations, d)
    error = np.abs(d[group.permutations] - moved).max(axis=(1, 2))
    kept = error <= tolerance * _rms(x0 - x0.mean(axis=0))
    return CurieReport(group, _subgroup(group, kept), np.flatnonzero(~kept))


def _wigner_d(l, ops):
    """e3nn's :math:`D^l(R)` of parity :math:`(-1)^l`, shape ``(K, 2l+1, 2l+1)``, so that
    :math:`Y^l(R x) = D^l(R)\\, Y^l(x)`."""
    R = torch.as_tensor(np.asarray(ops), dtype=torch.float64)
    return o3.Irrep(l, (-1) ** l).D_from_matrix(R).numpy()


def _blocks(feature, n):
    """``feature`` (None, one ``(l, coefficients)`` pair or a list of them) as a list of
    ``(l, c)`` with ``c`` of shape ``(N, 2l+1)``."""
    if feature is None:
        return []
    single = isinstance(feature, tuple) and len(feature) == 2 and isinstance(feature[0], (int, np.integer))
    blocks = []
    for block in [feature] if single else feature:
        if not (isinstance(block, tuple) and len(block) == 2):
            raise ValueError(f"feature must be an (l, coefficients) pair or a list of them, but got {block!r}")
        l, coefficients = block
        if not (isinstance(l, (int, np.integer)) and l >= 0):
            raise ValueError(f"feature's l must be an integer >= 0, but got {l!r}")
        c = np.asarray(coefficients, dtype=float)
        if c.shape not in ((2 * l + 1,), (n, 2 * l + 1)):
            shapes = f"({2 * l + 1},) or ({n}, {2 * l + 1})"
            raise ValueError(f"feature with l={l} must have shape {shapes}, but got {c.shape}")
        blocks.append((int(l), np.broadcast_to(c, (n, 2 * l + 1))))
    return blocks


def _keeps_feature(group, feature, n, tolerance):
    """Mask of the operations with :math:`D^l(R) c_i = c_{\\pi(i)}` within tolerance, for every
    block of ``feature`` (see `curie_check`)."""
    keep = np.ones(len(group.operations), dtype=bool)
    for l, c in _blocks(feature, n):
        moved = np.einsum("kab,nb->kna", _wigner_d(l, group.operations), c)
        error = np.abs(c[group.permutations] - moved).max(axis=(1, 2))
        keep &= error <= tolerance * np.abs(c).max()
    return keep


def _orient_linear(group, blocks):
    """C∞v or D∞h with its stand-in turned about the axis onto the mirror or 2-fold axis that fits
    the ``(l, c)`` blocks best, so that the subgroup they keep does not depend on the orientation.

    The mirrors :math:`\\sigma_\\psi` containing the axis (normal at angle :math:`\\psi`) and, for
    D∞h, the 2-fold axes :math:`-\\sigma_\\psi` across it are scanned for the :math:`\\psi` that
    minimises :math:`\\sum_{blocks} |c_{\\pi(i)} - D^l(g_\\psi) c_i|^2 / \\max |c|^2`. The other
    mirrors and 2-fold axes of a finite subgroup that the stand-in can hold lie at multiples of 15°
    from that one, like the stand-in's.
    """
    blocks = [(l, c / np.abs(c).max()) for l, c in blocks if np.abs(c).max() > 0]
    if not blocks:
        return group
    mirror, two_fold = _LINEAR_ORDER, 3 * _LINEAR_ORDER  # σ_0 and -σ_0 in the stand-in
    families = [mirror] if group.name == "C∞v" else [mirror, two_fold]

    def residual(index, angles):
        ops = np.array([_turned(group, a).operations[index] for a in np.atleast_1d(angles)])
        perm = group.permutations[index]
        moved = [(c, np.einsum("kab,nb->kna", _wigner_d(l, ops), c)) for l, c in blocks]
        return sum(((c[perm] - m) ** 2).sum(axis=(1, 2)) for c, m in moved)

    grid = np.linspace(0, np.pi, 180, endpoint=False)
    fits = []
    for index in families:
        start = grid[np.argmin(residual(index, grid))]
        bounds = (start - grid[1], start + grid[1])
        fit = minimize_scalar(lambda a, k=index: residual(k, a)[0], bounds=bounds, method="bounded",
                              options={"xatol": 1e-10})
        fits.append(fit)
    return _turned(group, min(fits, key=lambda fit: fit.fun).x)
