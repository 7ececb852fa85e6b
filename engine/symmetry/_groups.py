"""Point groups: finding the symmetry operations of a point set and naming the group."""

from dataclasses import dataclass
import math

import numpy as np
from scipy.spatial import cKDTree

from ..errors import Cancelled
from ..validation import check_points

_LINEAR_ORDER = 12  # rotations standing in for the continuous axis of C∞v and D∞h
_ANGLE_TOL = 1e-2  # tolerance on axis directions and rotation angles when naming a group
COINCIDENT = 1e-6  # points closer than this times the set's rms radius are one point twice
MAX_POINTS = 100_000  # the largest set analysed (an icosphere of 40,962 vertices takes about 10 s)
MAX_CANDIDATES = 1_000_000  # candidate operations tested before the search gives up
_SAMPLE = 32  # points a candidate must map onto points before the whole set is matched


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


def point_group(positions, types=None, *, tolerance=1e-3, progress=None, cancel=None):
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
    progress : callable, optional
        called as ``progress(done, total)`` before each candidate operation is tested, and
        ``progress(total, total)`` at the end.
    cancel : callable, optional
        checked between candidates; when it returns true, `~engine.errors.Cancelled` is raised.

    Returns
    -------
    `PointGroup`

    Raises
    ------
    ValueError
        for more than :data:`MAX_POINTS` points, points closer than :data:`COINCIDENT` times
        the rms radius (naming them), or more than :data:`MAX_CANDIDATES` candidates.

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
    if len(x) > MAX_POINTS:
        raise ValueError(f"{len(x):,} points are more than the symmetry analysis takes ({MAX_POINTS:,}); "
                         f"analyse a simpler version of the mesh")
    labels = _labels(types, len(x), tolerance)
    x = x - x.mean(axis=0)
    scale = _rms(x)
    tol = tolerance * scale
    if np.linalg.norm(x, axis=1).max() <= tol:
        raise ValueError(f"positions need at least 2 distinct points, but all {len(x)} coincide")
    axis = np.linalg.svd(x, full_matrices=False)[2][0]
    if np.linalg.norm(x - np.outer(x @ axis, axis), axis=1).max() <= tol:
        return _linear_group(x, labels, axis, tol)
    ops, perms = _find_operations(x, labels, tol, progress, cancel)
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
    """Function ``match(y, limit, points=None)``: the permutation sending each point (of
    ``points``, all by default) to the nearest point of its type to its image ``y``, or None
    when that is not one-to-one within ``limit``.

    Points closer than :data:`COINCIDENT` times the rms radius, and of one type, raise
    ``ValueError`` naming them: no permutation can tell them apart.
    """
    classes = [np.flatnonzero(labels == k) for k in np.unique(labels)]
    trees = [cKDTree(x[members]) for members in classes]
    _check_coincident(x, classes, trees)
    class_of = np.unique(labels, return_inverse=True)[1]

    def match(y, limit, points=None):
        points = np.arange(len(x)) if points is None else points
        perm = np.empty(len(points), dtype=int)
        for k, (members, tree) in enumerate(zip(classes, trees)):
            mine = np.flatnonzero(class_of[points] == k)
            if not len(mine):
                continue
            distance, nearest = tree.query(y[mine])
            if distance.max() > limit:
                return None
            perm[mine] = members[nearest]
        return perm if len(np.unique(perm)) == len(perm) else None

    return match


def _check_coincident(x, classes, trees):
    """``ValueError`` naming up to 3 pairs of points of one type closer than :data:`COINCIDENT`
    times the rms radius."""
    limit = COINCIDENT * _rms(x)
    pairs = [members[p] for members, tree in zip(classes, trees)
             for p in tree.query_pairs(limit, output_type="ndarray")]
    if pairs:
        named = ", ".join(f"{i} and {j}" for i, j in sorted(map(sorted, pairs))[:3])
        more = f" (and {len(pairs) - 3} more pairs)" if len(pairs) > 3 else ""
        raise ValueError(f"Vertices {named}{more} coincide; merge them first (Mesh > Clean Up > Merge by Distance)")


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
    """Per point: the radius and the distances to the 8 nearest other points.

    A symmetry maps each point onto one whose invariants agree within :math:`2 \\epsilon`.
    Eight neighbours tell apart the vertices of a fine mesh that differ only past their first
    ring (an icosphere's 12 five-fold vertices among its 40,950 six-fold ones).
    """
    k = min(9, len(x))
    neighbours = cKDTree(x).query(x, k=k)[0][:, 1:]
    return np.concatenate([np.linalg.norm(x, axis=1)[:, None], neighbours], axis=1)


def _reference_pair(x, labels, tol):
    """Two points not collinear with the centre, with the points alike to each (same type,
    same invariants): the candidates for their images.

    :math:`a` has the fewest alike points; :math:`b` the fewest alike points at its distance
    from :math:`a`, so that few pairs :math:`(a', b')` are candidates. Both are chosen among
    :data:`_SAMPLE` points of the smallest cells of side :math:`2 \\epsilon` of the invariants
    and :data:`_SAMPLE` random ones, whose classes are then counted exactly.
    """
    invariants = _invariants(x)

    def alike(i):
        close = np.abs(invariants - invariants[i]).max(axis=1) <= 2 * tol
        return np.flatnonzero(close & (labels == labels[i]))

    cells = np.column_stack([labels, np.floor(invariants / (2 * tol))]).astype(np.int64)
    _, cell, sizes = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    cell_size = sizes[cell.ravel()]
    random = np.random.default_rng(0)

    def choose(eligible, extent, count):
        few = np.union1d(eligible[np.lexsort((-extent[eligible], cell_size[eligible]))[:_SAMPLE]],
                         random.permutation(eligible)[:_SAMPLE])
        return min(few, key=lambda i: (count(i), -extent[i]))

    r = invariants[:, 0]
    a = choose(np.flatnonzero(r > 0.2 * r.max()), r, lambda i: len(alike(i)))
    off_line = np.linalg.norm(np.cross(x, x[a] / r[a]), axis=1)
    to_a = np.linalg.norm(x - x[a], axis=1)

    def at_same_distance(i):
        images = alike(i)
        return np.count_nonzero(np.abs(to_a[images] - to_a[i]) <= 2 * tol)

    b = choose(np.flatnonzero(off_line > 0.2 * off_line.max()), off_line, at_same_distance)
    return a, b, alike(a), alike(b)


def _find_operations(x, labels, tol, progress=None, cancel=None):
    """Every operation of a non-collinear centred set: ``(K, 3, 3)`` matrices and ``(K, N)`` permutations.

    Each candidate maps the frame of the reference pair :math:`(a, b)` onto the frame of an alike
    pair :math:`(a', b')` with :math:`|a' - b'| = |a - b|` (found in a k-d tree), with either
    handedness of the third axis. A candidate must first map :data:`_SAMPLE` fixed points onto
    points (within :math:`4 \\epsilon`, after a Procrustes fit on them); one whose pair is already
    the image of :math:`(a, b)` under a found operation is skipped. So the cost is
    :math:`O(C \\log N)` for :math:`C` candidates plus :math:`O(N \\log N)` per operation.
    """
    a, b, images_a, images_b = _reference_pair(x, labels, tol)
    frame = _frame(x[a], x[b])
    distance = np.linalg.norm(x[a] - x[b])
    near_b = cKDTree(x[images_b]).query_ball_point(x[images_a], distance + 2 * tol)
    a2 = np.repeat(images_a, [len(near) for near in near_b])
    b2 = images_b[np.concatenate([np.asarray(near, dtype=int) for near in near_b])]
    keep = (a2 != b2) & (np.abs(np.linalg.norm(x[a2] - x[b2], axis=1) - distance) <= 2 * tol)
    pairs = list(zip(a2[keep].tolist(), b2[keep].tolist()))
    if 2 * len(pairs) > MAX_CANDIDATES:
        raise ValueError(f"The symmetry search would test {2 * len(pairs):,} candidate operations, more than "
                         f"{MAX_CANDIDATES:,}; analyse a simpler version of the mesh")
    match = _matcher(x, labels, tol)
    sample = np.unique(np.concatenate([[a, b], np.random.default_rng(0).permutation(len(x))[:_SAMPLE]]))
    found, seen = {}, set()
    total = 2 * len(pairs)
    for done, ((a2, b2), handedness) in enumerate((pair, h) for pair in pairs for h in (1.0, -1.0)):
        if cancel is not None and cancel():
            raise Cancelled(f"Symmetry analysis cancelled after {done:,} of {total:,} candidates")
        if progress is not None:
            progress(done, total)
        if (a2, b2, handedness) in seen:
            continue
        turn = frame.T @ np.diag([1.0, 1.0, handedness]) @ _frame(x[a2], x[b2])
        images = match(x[sample] @ turn, np.inf, sample)
        if images is None:
            continue
        R = _procrustes(x[sample], x[images], handedness)
        if np.linalg.norm(x[sample] @ R.T - x[images], axis=1).max() > 4 * tol:
            continue
        perm = match(x @ turn, np.inf)
        if perm is None or (handedness, perm.tobytes()) in found:
            continue
        R = _procrustes(x, x[perm], handedness)
        if np.linalg.norm(x @ R.T - x[perm], axis=1).max() <= tol:
            found[(handedness, perm.tobytes())] = (R, perm)
            seen.add((int(perm[a]), int(perm[b]), handedness))
    if progress is not None:
        progress(total, total)
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
