"""Point groups: finding the symmetry operations of a point set and naming the group."""

from dataclasses import dataclass
import math

import numpy as np
from scipy.spatial import cKDTree

from ..validation import check_points

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
        for :math:`L < 12`: first the 12 rotations, then the 12 mirrors containing the axis (normals
        15° apart), then for D∞h the same 24 times :math:`-I`.
    """

    name: str
    operations: np.ndarray
    permutations: np.ndarray
    infinite: bool = False

    @property
    def order(self):
        """Number of operations (``math.inf`` for C∞v and D∞h)."""
        return math.inf if self.infinite else len(self.operations)


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
    x = check_points(positions, "positions")
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


# --- finding the operations ---------------------------------------------------------------------


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
    representatives: list[np.ndarray] = []
    labels = np.empty(n, dtype=int)
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
    distinct: list[np.ndarray] = []
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


def _subgroup(group, mask):
    """The operations selected by ``mask``; the group itself when all are selected.

    A subgroup of C∞v or D∞h that keeps the stand-in's rotation by :math:`2\\pi / 12` keeps the
    whole axis (the inputs have :math:`L < 12`), so it is C∞v again.
    """
    if mask.all():
        return group
    ops, perms = group.operations[mask], group.permutations[mask]
    if group.infinite and mask[1] and len(ops) == 2 * _LINEAR_ORDER:
        return PointGroup("C∞v", ops, perms, infinite=True)
    return PointGroup(_schoenflies(ops), ops, perms)


def _turned(group, angle):
    """C∞v or D∞h with its stand-in's mirrors and 2-fold axes turned by ``angle`` about its axis."""
    R = _rotation(_axis(group.operations[1]), angle)
    return PointGroup(group.name, R @ group.operations @ R.T, group.permutations, infinite=True)
