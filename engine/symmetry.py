"""Point groups, Curie's principle and order parameters of point sets.

An equivariant network maps a point set onto an output that is at least as symmetric as its
input (Curie's principle). This module finds the symmetry group of a start set, the subgroup that
a target displacement respects, and the lowest spherical-harmonic input that breaks the start's
symmetry the way the target does (the *order parameter*).

All operations act on coordinates centred on the start's centroid. Signals follow e3nn: real
spherical harmonics with y as the polar axis, irreps ``(l, (-1)**l)``.
"""

from dataclasses import dataclass
import math

import numpy as np
import torch
from e3nn import o3
from scipy.spatial import cKDTree

__all__ = [
    "PointGroup",
    "CurieReport",
    "OrderParameter",
    "point_group",
    "curie_check",
    "order_parameter",
    "point_order_parameter",
    "analyze",
]

_LINEAR_ORDER = 12  # rotations standing in for the continuous axis of C∞v and D∞h
_ANGLE_TOL = 1e-2  # tolerance on axis directions and rotation angles when naming a group


@dataclass(frozen=True, eq=False)
class PointGroup:
    """Symmetry operations of a point set.

    Parameters
    ----------
    name : str
        Schoenflies symbol, e.g. ``'D4h'``; collinear sets give ``'C∞v'`` or ``'D∞h'``.
    operations : `numpy.ndarray`
        orthogonal matrices of shape ``(K, 3, 3)`` acting on centred coordinates.
    permutations : `numpy.ndarray`
        integers of shape ``(K, N)``: operation ``k`` maps point ``i`` onto point
        ``permutations[k, i]``, i.e. :math:`R_k x_i = x_{\\pi_k(i)}`.
    infinite : bool
        True for C∞v and D∞h. Their ``operations`` are then the finite subgroup
        C12v or D12h around the same axis, which has the same invariant spherical harmonics
        for :math:`L < 12`.
    """

    name: str
    operations: np.ndarray
    permutations: np.ndarray
    infinite: bool = False

    @property
    def order(self):
        """Number of operations (``math.inf`` for C∞v and D∞h)."""
        return math.inf if self.infinite else len(self.operations)

    @property
    def ascii_name(self):
        """``name`` with ∞ spelled ``inf``."""
        return self.name.replace("∞", "inf")


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


@dataclass(frozen=True, eq=False)
class OrderParameter:
    """A feature that is invariant under the kept subgroup but not under the start's group.

    Parameters
    ----------
    l : int
        degree of the spherical harmonics.
    parity : {'even', 'odd'}
        :math:`(-1)^l`, as in the network's signals.
    coefficients : `numpy.ndarray`
        shape ``(2l+1,)`` for a global feature at the centroid, the signal
        :math:`f(\\hat r) = \\sum_m c_m Y^l_m(\\hat r)` in the basis of
        ``o3.spherical_harmonics(l, r, normalize=True)``; or shape ``(N, 2l+1)`` for one such
        feature per point.
    description : str
        readable summary, e.g. ``'L=2, even, ∝ x² − y² ...'``.
    symmetry : str
        name of the start's symmetry that is left with this feature as an extra input. It is the
        kept group's unless a single degree l cannot break the symmetry that far.
    """

    l: int
    parity: str
    coefficients: np.ndarray
    description: str
    symmetry: str

    def to_dict(self):
        """JSON-ready form."""
        return {
            "l": self.l,
            "parity": self.parity,
            "coefficients": self.coefficients.tolist(),
            "description": self.description,
            "symmetry": self.symmetry,
        }


def point_group(positions, types=None, *, tolerance=1e-3):
    """Point group of a point set, found up to a tolerance.

    An orthogonal matrix :math:`R` (proper or improper) is a symmetry when a permutation
    :math:`\\pi` with matching types gives

    .. math:: \\max_i |R (x_i - \\bar x) - (x_{\\pi(i)} - \\bar x)| \\le \\epsilon\\, r_{rms}

    with :math:`r_{rms}` the root-mean-square distance to the centroid :math:`\\bar x`.
    Candidates map a reference pair of points :math:`(a, b)` onto every pair at the same radii and
    distance, in both handednesses; each is refined by an orthogonal Procrustes fit.

    Parameters
    ----------
    positions : array_like
        shape ``(N, 3)``, in any orientation and position.
    types : array_like, optional
        shape ``(N,)`` labels, or ``(N, F)`` feature rows (equal within ``tolerance`` relative to
        their largest magnitude); only points of the same type may be exchanged.
    tolerance : float
        relative tolerance :math:`\\epsilon`.

    Returns
    -------
    `PointGroup`

    Examples
    --------
    >>> square = [[1, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]]
    >>> g = point_group(square)
    >>> g.name, g.order
    ('D4h', 16)
    """
    if not tolerance > 0:
        raise ValueError(f"tolerance must be positive, but got {tolerance!r}")
    x = _points(positions, "positions")
    labels = _labels(types, len(x), tolerance)
    x = x - x.mean(axis=0)
    scale = _rms(x)
    tol = tolerance * scale
    if np.linalg.norm(x, axis=1).max() <= tol:
        raise ValueError(f"positions need at least 2 distinct points, but all {len(x)} coincide")
    axis = np.linalg.svd(x, full_matrices=False)[2][0]
    if np.linalg.norm(x - np.outer(x @ axis, axis), axis=1).max() <= tol:
        return _linear_group(x, labels, axis, tol)
    ops, perms = _find_operations(x, labels, tol)
    return PointGroup(_schoenflies(ops), ops, perms)


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


def order_parameter(start, target, types=None, *, lmax=5, tolerance=1e-3):
    """Lowest-l global feature, at the centroid, that breaks the start's symmetry like the target.

    With :math:`G` the start's group and :math:`H \\subset G` the kept subgroup, the projectors

    .. math:: P_G = \\frac{1}{|G|} \\sum_{g \\in G} D^l(g), \\qquad
              P_H = \\frac{1}{|H|} \\sum_{h \\in H} D^l(h)

    project onto the invariant signals, and :math:`Q = P_H - P_G` onto the signals invariant under
    :math:`H` but not :math:`G`. For :math:`l = 1, 2, \\dots` the candidates are
    :math:`c \\propto Q\\, m_l`, with :math:`m_l = \\sum_i |x_i|^l Y^l(\\hat x_i)` the target's
    multipole about the start's centroid (so the sign follows the target), then :math:`Q r` for a
    fixed generic :math:`r`. The first candidate whose symmetry in :math:`G` is exactly :math:`H`
    is returned; if none is, the one leaving the least symmetry (see `OrderParameter.symmetry`).

    Parameters
    ----------
    start, target, types, tolerance
        see `curie_check`.
    lmax : int
        largest degree tried.

    Returns
    -------
    `OrderParameter` or None
        None when the target is learnable without one.

    Raises
    ------
    ValueError
        when no global order parameter exists up to ``lmax``.
    """
    x0, x1 = _start_and_target(start, target)
    report = curie_check(x0, x1, types, tolerance=tolerance)
    if report.learnable:
        return None
    found = _global_order_parameter(report, x0, x1, lmax, tolerance)
    if found is None:
        raise ValueError(
            f"no global order parameter with l <= lmax={lmax} separates {report.kept_name} "
            f"from {report.start_group.name}; try a larger lmax or point_order_parameter"
        )
    return found


def point_order_parameter(start, target, types=None, *, tolerance=1e-3):
    """Lowest-l per-point feature that breaks the start's symmetry like the target.

    A per-point feature :math:`c_i` is allowed by the kept subgroup :math:`H` when
    :math:`c_{\\pi(i)} = D^l(R) c_i` for every :math:`(R, \\pi) \\in H`.

    - l = 0 when labelling the orbits of :math:`H` leaves exactly :math:`H` of :math:`G`.
    - l = 1 otherwise: the part of the displacement that :math:`G` does not allow,

      .. math:: c_i = d_i - (P_G d)_i, \\qquad
                (P_G d)_{\\pi(i)} = \\frac{1}{|G|} \\sum_{(R, \\pi) \\in G} R\\, d_i,

      written as ``o3.spherical_harmonics(1, c_i, normalize=False)`` and scaled to a largest
      norm of 1. It is never zero when the target is not learnable.

    Parameters
    ----------
    start, target, types, tolerance
        see `curie_check`.

    Returns
    -------
    `OrderParameter` or None
        ``coefficients`` of shape ``(N, 2l+1)``; None when the target is learnable.
    """
    x0, x1 = _start_and_target(start, target)
    report = curie_check(x0, x1, types, tolerance=tolerance)
    if report.learnable:
        return None
    return _point_order_parameter(report, x1 - x0, tolerance)


def analyze(start, target, types=None, *, lmax=5, tolerance=1e-3):
    """Curie check and order parameters, as a JSON-ready dict.

    Keys: ``start_group``, ``start_order``, ``kept_group``, ``kept_order`` (None for an infinite
    group), ``learnable``, ``broken_operations`` (count), ``order_parameter`` and
    ``point_order_parameter`` (``{l, parity, coefficients, description}`` or None) and a
    one-sentence ``verdict``.
    """
    x0, x1 = _start_and_target(start, target)
    report = curie_check(x0, x1, types, tolerance=tolerance)
    G, H = report.start_group, report.kept
    found = point = None
    if not report.learnable:
        found = _global_order_parameter(report, x0, x1, lmax, tolerance)
        point = _point_order_parameter(report, x1 - x0, tolerance)
    return {
        "start_group": G.name,
        "start_order": _json_order(G),
        "kept_group": H.name,
        "kept_order": _json_order(H),
        "learnable": report.learnable,
        "broken_operations": len(report.broken),
        "order_parameter": found.to_dict() if found else None,
        "point_order_parameter": point.to_dict() if point else None,
        "verdict": _verdict(report, found, point, lmax),
    }


# --- finding the operations ---------------------------------------------------------------------


def _points(positions, what):
    x = np.asarray(positions, dtype=float)
    if x.ndim != 2 or x.shape[1] != 3 or len(x) == 0:
        raise ValueError(f"{what} must have shape (N, 3) with N >= 1, but got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} must be finite, but contains NaN or infinity")
    return x


def _start_and_target(start, target):
    x0, x1 = _points(start, "start"), _points(target, "target")
    if x0.shape != x1.shape:
        raise ValueError(f"start and target must have the same shape, but got {x0.shape} and {x1.shape}")
    return x0, x1


def _rms(x):
    return float(np.sqrt((x**2).sum(axis=1).mean()))


def _labels(types, n, tolerance):
    """Integer label per point; feature rows within tolerance share a label."""
    if types is None:
        return np.zeros(n, dtype=int)
    t = np.asarray(types)
    if t.ndim not in (1, 2) or len(t) != n:
        raise ValueError(f"types must have shape (N,) or (N, F) with N={n}, but got shape {t.shape}")
    if t.dtype.kind not in "fc":
        return np.unique(t.reshape(n, -1), axis=0, return_inverse=True)[1].ravel()
    rows = t.reshape(n, -1).astype(float)
    tol = tolerance * max(np.abs(rows).max(), np.finfo(float).tiny)
    representatives, labels = [], np.empty(n, dtype=int)
    for i, row in enumerate(rows):
        close = [k for k, r in enumerate(representatives) if np.abs(row - r).max() <= tol]
        if not close:
            representatives.append(row)
        labels[i] = close[0] if close else len(representatives) - 1
    return labels


def _matcher(x, labels, tol):
    """Function ``match(y, limit)``: the permutation sending each point to the nearest point of its
    type to its image ``y``, or None when that is not a bijection within ``limit``."""
    classes = [np.flatnonzero(labels == k) for k in np.unique(labels)]
    trees = [cKDTree(x[members]) for members in classes]
    for members, tree in zip(classes, trees):
        pairs = tree.query_pairs(tol, output_type="ndarray")
        if len(pairs):
            i, j = members[pairs[0]]
            raise ValueError(f"positions {i} and {j} coincide and have the same type; merge them first")

    def match(y, limit):
        perm = np.empty(len(x), dtype=int)
        for members, tree in zip(classes, trees):
            distance, nearest = tree.query(y[members])
            if distance.max() > limit:
                return None
            perm[members] = members[nearest]
        return perm if len(np.unique(perm)) == len(perm) else None

    return match


def _procrustes(x, y, handedness):
    """Kabsch: the orthogonal :math:`R` with :math:`\\det R =` ``handedness`` that minimises
    :math:`\\sum_i |R x_i - y_i|^2`."""
    u, _, vt = np.linalg.svd(y.T @ x)
    fix = np.diag([1.0, 1.0, handedness * np.linalg.det(u @ vt)])
    return u @ fix @ vt


def _frame(a, b):
    """Rows: :math:`\\hat a`, the part of :math:`b` orthogonal to it, and their cross product."""
    e1 = a / np.linalg.norm(a)
    e2 = b - (b @ e1) * e1
    e2 = e2 / np.linalg.norm(e2)
    return np.stack([e1, e2, np.cross(e1, e2)])


def _invariants(x):
    """Per point: the radius and the distances to the 3 nearest other points.

    A symmetry maps each point onto one whose invariants agree within :math:`2 \\epsilon`.
    """
    k = min(4, len(x))
    neighbours = cKDTree(x).query(x, k=k)[0][:, 1:]
    return np.concatenate([np.linalg.norm(x, axis=1)[:, None], neighbours], axis=1)


def _reference_pair(x, labels, tol):
    """Two points not collinear with the centre, from the smallest classes of alike points,
    with the points alike to each (same type, same invariants): the candidates for their images."""
    invariants = _invariants(x)

    def alike(i):
        close = np.abs(invariants - invariants[i]).max(axis=1) <= 2 * tol
        return np.flatnonzero(close & (labels == labels[i]))

    count = np.empty(len(x), dtype=int)
    for k in np.unique(labels):
        members = np.flatnonzero(labels == k)
        tree = cKDTree(invariants[members])
        count[members] = tree.query_ball_point(invariants[members], 2 * tol, p=np.inf, return_length=True)
    r = invariants[:, 0]
    a = min(np.flatnonzero(r > 0.2 * r.max()), key=lambda i: (count[i], -r[i]))
    off_line = np.linalg.norm(np.cross(x, x[a] / r[a]), axis=1)
    b = min(np.flatnonzero(off_line > 0.2 * off_line.max()), key=lambda i: (count[i], -off_line[i]))
    return a, b, alike(a), alike(b)


def _find_operations(x, labels, tol):
    """Every operation of a non-collinear centred set: ``(K, 3, 3)`` matrices and ``(K, N)`` permutations.

    Each candidate maps the frame of the reference pair :math:`(a, b)` onto the frame of an alike
    pair :math:`(a', b')` with :math:`|a' - b'| = |a - b|`, with either handedness of the third axis.
    """
    a, b, images_a, images_b = _reference_pair(x, labels, tol)
    frame = _frame(x[a], x[b])
    A, B = np.meshgrid(images_a, images_b, indexing="ij")
    same_distance = np.abs(np.linalg.norm(x[A] - x[B], axis=-1) - np.linalg.norm(x[a] - x[b])) <= 2 * tol
    match = _matcher(x, labels, tol)
    found = {}
    for a2, b2 in zip(A[same_distance & (A != B)], B[same_distance & (A != B)]):
        frame2 = _frame(x[a2], x[b2])
        for handedness in (1.0, -1.0):
            perm = match(x @ frame.T @ np.diag([1.0, 1.0, handedness]) @ frame2, np.inf)
            key = (handedness, None if perm is None else perm.tobytes())
            if perm is None or key in found:
                continue
            R = _procrustes(x, x[perm], handedness)
            if np.linalg.norm(x @ R.T - x[perm], axis=1).max() <= tol:
                found[key] = (R, perm)
    ops, perms = zip(*found.values())
    return np.array(ops), np.array(perms)


def _rotation(axis, angle):
    """Rodrigues' formula:
    :math:`R = \\cos\\theta\\, I + \\sin\\theta\\, [u]_\\times + (1 - \\cos\\theta)\\, u u^T`."""
    u = axis / np.linalg.norm(axis)
    cross = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
    return np.cos(angle) * np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * np.outer(u, u)


def _linear_group(x, labels, axis, tol):
    """C∞v or D∞h of a collinear set, represented by C12v or D12h (see `PointGroup`)."""
    n = len(x)
    normal = np.cross(axis, np.eye(3)[np.argmin(np.abs(axis))])
    rotations = [_rotation(axis, 2 * np.pi * k / _LINEAR_ORDER) for k in range(_LINEAR_ORDER)]
    normals = [_rotation(axis, np.pi * k / _LINEAR_ORDER) @ normal for k in range(_LINEAR_ORDER)]
    mirrors = [np.eye(3) - 2 * np.outer(v, v) / (v @ v) for v in normals]
    ops = np.array(rotations + mirrors)
    perms = np.tile(np.arange(n), (len(ops), 1))
    flip = _matcher(x, labels, tol)(-x, tol)
    if flip is None:
        return PointGroup("C∞v", ops, perms, infinite=True)
    ops, perms = np.concatenate([ops, -ops]), np.concatenate([perms, perms[:, flip]])
    return PointGroup("D∞h", ops, perms, infinite=True)


# --- naming -------------------------------------------------------------------------------------


def _axis(R):
    """Unit axis of a proper rotation: the null vector of :math:`R - I`."""
    return np.linalg.svd(R - np.eye(3))[2][-1]


def _rotation_order(R, group_order):
    """Smallest divisor :math:`k` of the group's order with :math:`k\\theta / 2\\pi` an integer."""
    theta = np.arccos(np.clip((np.trace(R) - 1) / 2, -1, 1))
    for k in range(1, group_order + 1):
        turns = k * theta / (2 * np.pi)
        if group_order % k == 0 and abs(turns - round(turns)) < _ANGLE_TOL:
            return k
    raise ValueError(f"operations do not form a group: rotation by {np.degrees(theta):.3f} degrees")


def _parallel(u, v):
    return abs(u @ v) > 1 - _ANGLE_TOL


def _count_directions(vectors):
    distinct = []
    for v in vectors:
        if not any(_parallel(v, w) for w in distinct):
            distinct.append(v)
    return len(distinct)


def _schoenflies(ops):
    """Schoenflies symbol from the group's elements.

    The proper rotations form C_n (one axis, n elements), D_n (2n elements) or, with several axes
    of order >= 3, T, O or I (12, 24, 60 elements). Improper elements then tell apart the
    extensions: inversion (trace -3), mirrors (trace 1, normal = axis of -R) perpendicular or
    parallel to the principal axis, or only rotoreflections (S_2n).
    """
    proper = [R for R in ops if np.linalg.det(R) > 0]
    improper = [R for R in ops if np.linalg.det(R) < 0]
    m = len(proper)
    orders = [_rotation_order(R, m) for R in proper]
    axes = [_axis(R) for R in proper]
    n = max(orders)
    inversion = any(np.trace(R) < -3 + _ANGLE_TOL for R in improper)
    normals = [_axis(-R) for R in improper if abs(np.trace(R) - 1) < _ANGLE_TOL]
    if _count_directions([u for u, k in zip(axes, orders) if k >= 3]) > 1:
        base = {12: "T", 24: "O", 60: "I"}.get(m)
        if base is None:
            raise ValueError(f"operations do not form a point group: {m} rotations, several axes of order >= 3")
        if not improper:
            return base
        return ("Th" if inversion else "Td") if base == "T" else base + "h"
    principal = [u for u, k in zip(axes, orders) if k == n]
    horizontal = any(_parallel(v, u) for v in normals for u in principal)
    if m == n:
        if not improper:
            return f"C{n}"
        if n == 1:
            return "Ci" if inversion else "Cs"
        if horizontal:
            return f"C{n}h"
        return f"C{n}v" if normals else f"S{2 * n}"
    if not improper:
        return f"D{n}"
    return f"D{n}h" if horizontal else f"D{n}d"


# --- subgroups and signals ----------------------------------------------------------------------


def _subgroup(group, mask):
    """The operations selected by ``mask``; the group itself when all are selected."""
    if mask.all():
        return group
    ops = group.operations[mask]
    return PointGroup(_schoenflies(ops), ops, group.permutations[mask])


def _wigner_d(l, ops):
    """e3nn's :math:`D^l(R)` of parity :math:`(-1)^l`, shape ``(K, 2l+1, 2l+1)``, so that
    :math:`Y^l(R x) = D^l(R)\\, Y^l(x)`."""
    R = torch.as_tensor(np.asarray(ops), dtype=torch.float64)
    return o3.Irrep(l, (-1) ** l).D_from_matrix(R).numpy()


def _projector(l, ops):
    """:math:`P = \\frac{1}{K} \\sum_k D^l(R_k)`, the projector onto the invariant signals."""
    return _wigner_d(l, ops).mean(axis=0)


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


def _sh(l, vectors, normalize):
    return o3.spherical_harmonics(l, torch.as_tensor(vectors, dtype=torch.float64), normalize).numpy()


def _breaking_signals(report, x0, x1, lmax):
    """Unit signals invariant under the kept group but not the start's, lowest l first.

    For each l with :math:`Q = P_H - P_G \\ne 0`: :math:`Q m_l` (the target's multipole about the
    start's centroid), then :math:`Q r` for a fixed generic :math:`r`.
    """
    if not (isinstance(lmax, (int, np.integer)) and lmax >= 1):
        raise ValueError(f"lmax must be an integer >= 1, but got {lmax!r}")
    generic = np.random.default_rng(0).normal(size=2 * lmax + 1)
    for l in range(1, lmax + 1):
        q = _projector(l, report.kept.operations) - _projector(l, report.start_group.operations)
        if np.trace(q) < 0.5:
            continue
        moment = _sh(l, x1 - x0.mean(axis=0), normalize=False).sum(axis=0)
        for reference in (moment, generic[: 2 * l + 1]):
            c = q @ reference
            if np.linalg.norm(c) > 1e-8 * np.linalg.norm(reference):
                yield l, c / np.linalg.norm(c)


def _global_order_parameter(report, x0, x1, lmax, tolerance):
    """See `order_parameter`; None when no degree up to ``lmax`` has one."""
    G, H = report.start_group, report.kept
    best = None
    for l, c in _breaking_signals(report, x0, x1, lmax):
        left = _subgroup(G, _keeps_feature(G, (l, c), len(x0), tolerance))
        if best is None or len(left.operations) < len(best[2].operations):
            best = (l, c, left)
        if len(left.operations) == len(H.operations):
            break
    if best is None:
        return None
    l, c, left = best
    polynomial = _polynomial(l, c, _symmetry_frame(left, x1))
    description = f"L={l}, {_parity(l)}, ∝ {polynomial} with z the main axis of {left.name}"
    return OrderParameter(l, _parity(l), c, description, left.name)


def _point_order_parameter(report, d, tolerance):
    """See `point_order_parameter`."""
    G, H = report.start_group, report.kept
    g_orbits, h_orbits = _orbits(G.permutations), _orbits(H.permutations)
    labels = h_orbits[:, None].astype(float)
    left = _keeps_feature(G, (0, labels), len(d), tolerance).sum()
    if h_orbits.max() > g_orbits.max() and left == len(H.operations):
        description = f"L=0, even, labels the {h_orbits.max() + 1} orbits of {H.name} among the points"
        return OrderParameter(0, "even", labels, description, H.name)
    average = np.zeros_like(d)
    for R, perm in zip(G.operations, G.permutations):
        average[perm] += d @ R.T
    broken = d - average / len(G.operations)
    c = _sh(1, broken, normalize=False)
    description = f"L=1, odd, the part of each point's displacement that {G.name} forbids"
    return OrderParameter(1, "odd", c / np.linalg.norm(c, axis=1).max(), description, H.name)


def _orbits(permutations):
    """Orbit label per point: points :math:`\\pi_k(i)` share the label of :math:`\\min_k \\pi_k(i)`."""
    return np.unique(permutations.min(axis=0), return_inverse=True)[1]


def _parity(l):
    return "even" if l % 2 == 0 else "odd"


# --- descriptions -------------------------------------------------------------------------------

_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _symmetry_directions(ops):
    """``(order, unit vector)`` of each rotation axis (order >= 2) and each mirror normal (order 1)."""
    proper = [R for R in ops if np.linalg.det(R) > 0]
    rotations = [(_rotation_order(R, len(proper)), _axis(R)) for R in proper]
    mirrors = [(1, _axis(-R)) for R in ops if np.linalg.det(R) < 0 and abs(np.trace(R) - 1) < _ANGLE_TOL]
    return [(k, u) for k, u in rotations if k >= 2] + mirrors


def _symmetry_frame(group, target):
    """Rows x, y, z in which a signal invariant under ``group`` reads simply.

    z is the group's highest-order direction (rotation axis, then mirror normal), ties going to
    the direction in which the target is thinnest; x is the highest-order one perpendicular to z,
    ties going to the target's longest extent. The target's principal axes (the eigenvectors of
    :math:`M = \\sum_i (x_i - \\bar x)(x_i - \\bar x)^T`) stand in where the group has none.
    """
    centred = target - target.mean(axis=0)
    moment = centred.T @ centred
    principal = [(0, u) for u in np.linalg.eigh(moment)[1].T]
    candidates = _symmetry_directions(group.operations) + principal
    z = max(candidates, key=lambda c: (c[0], -c[1] @ moment @ c[1]))[1]
    sides = [(k, u - (u @ z) * z) for k, u in candidates if k == 0 or abs(u @ z) < _ANGLE_TOL]
    sides = [(k, u / np.linalg.norm(u)) for k, u in sides if np.linalg.norm(u) > _ANGLE_TOL]
    x = max(sides, key=lambda c: (c[0], c[1] @ moment @ c[1]))[1]
    return np.stack([x, np.cross(z, x), z])


def _polynomial(l, c, frame):
    """The signal as a harmonic polynomial :math:`\\sum_m c_m r^l Y^l_m` in the coordinates of ``frame``.

    The monomial coefficients are fitted exactly on random points and scaled to a largest
    magnitude of 1.
    """
    powers = [(i, j, l - i - j) for i in range(l, -1, -1) for j in range(l - i, -1, -1)]
    u = np.random.default_rng(0).normal(size=(3 * len(powers), 3))
    values = _sh(l, u @ frame, normalize=False) @ c
    monomials = np.stack([np.prod(u**p, axis=1) for p in powers], axis=1)
    coef = np.linalg.lstsq(monomials, values, rcond=None)[0]
    coef = np.round(coef / np.abs(coef).max(), 2)
    terms = [_term(k, p) for k, p in zip(coef, powers) if k != 0]
    return " ".join(terms).lstrip("+ ")


def _term(k, powers):
    monomial = "".join(
        v + (str(p).translate(_SUPERSCRIPTS) if p > 1 else "") for v, p in zip("xyz", powers) if p
    )
    size = "" if abs(k) == 1 else f"{abs(k):g}"
    return ("− " if k < 0 else "+ ") + size + monomial


def _json_order(group):
    return None if group.infinite else group.order


def _verdict(report, found, point, lmax):
    G, H = report.start_group, report.kept
    if report.learnable:
        return f"Learnable: the target keeps every symmetry of the start's group {G.name}."
    broken = (
        f"Not learnable: the target breaks {len(report.broken)} of the {len(G.operations)} operations"
        f" of {G.name}, keeping {H.name}"
    )
    if found is None or found.symmetry != H.name:
        per_point = f"the per-point one ({point.description})"
        return f"{broken}; no global order parameter up to L={lmax} does that, so add {per_point}."
    return f"{broken}; add the order parameter {found.description} as an input."
