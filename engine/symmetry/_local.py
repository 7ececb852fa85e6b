"""Vertices that a network over a radius graph cannot tell apart: Curie's principle, vertex by vertex.

A network of :math:`L` convolutions over a radius graph of radius :math:`r` computes the output
of vertex :math:`i` from the vertices at most :math:`L` hops away, which all lie within the
*reach* :math:`\\rho = L r` of it. Call :math:`N_i` the vertices within the reach, taken relative
to :math:`x_i` and with their types. When an orthogonal :math:`Q` (rotation or reflection: the
network is E(3)-equivariant, parity included) maps :math:`N_i` onto :math:`N_j`, the network's
outputs obey :math:`o_j = Q\\, o_i`, so the displacements must obey :math:`d_j = Q\\, d_i` for
*every* such map. With :math:`Q = Q_0 S` for the stabiliser :math:`S_i` (the maps of
:math:`N_i` onto itself) this reads

.. math:: s\\, d_i = d_i \\;\\; \\forall s \\in S_i \\quad\\text{and}\\quad d_j = Q_0\\, d_i,

a vertex's own Curie condition (a vertex whose neighbourhood has a mirror must move within it)
and one relation per congruent pair. A per-point input must map too (:math:`D^l(Q) c_k =
c_{\\pi(k)}`), a global one must be kept (:math:`D^l(Q) c = c`).

A graph with a hub (:func:`~engine.graph.with_hub`) and two or more convolutions shows every
vertex its offset from the centroid and the hub's features, a function of the whole mesh: a map
must then keep the centroid and the whole mesh, a symmetry of it, and the global check says it
all. With one convolution the hub is only a point at the centroid, which the check leaves out:
it may then count vertices that the hub's direction would tell apart.

The check, for vertices within the tolerance :math:`\\epsilon h` (:math:`h` the median distance to
the nearest vertex):

1. rotation-invariant descriptors of each :math:`N_i` (counts per type, mean powers of the
   distances, the norm of the mean offset, the eigenvalues of the second moment), scaled so that
   congruent neighbourhoods differ by less than one cell, group candidate classes;
2. each class's first vertex is its representative :math:`r`; a map :math:`N_r \\to N_i` sends a
   reference pair :math:`(a, b)` of :math:`N_r` (the rarest distance from the centre) onto a pair
   of :math:`N_i` at the same distances, in both handednesses; a candidate is fitted (Kabsch) on a
   sample, then on all of :math:`N_r`, and kept when every point lands within :math:`\\epsilon h`
   of a point of the same type;
3. all maps of :math:`N_r` onto itself give :math:`S_r` (its own identity needs no check); for
   the others one map (the closest to the identity) suffices. Vertices that match no
   representative try again as a class of their own (at most :data:`ROUNDS` times, then each
   alone);
4. a generic global input (an order parameter) keeps only the identity, so it would tell the
   counted vertices apart unless a failing relation is a translation: the check runs again on
   them with identity maps only, unless one already failed.

A class whose displacements break these relations (within :math:`\\epsilon` times the largest
displacement) cannot be fit: all its vertices are counted. Collinear and empty neighbourhoods
have continuous stabilisers: without other inputs the displacement must lie along the line, or
vanish. The reach's ball is a superset of the :math:`L`-hop neighbourhood, so a vertex is only
counted when the network truly cannot tell it apart.

Measured on this project's two shared cores (under load), 3 layers: a flat 100 × 100 grid squashed
along one axis, radius 1.5 grid steps (about 70 vertices within the reach; all 10,000 counted),
1.9–2.6 s; radius 1.01, 1.1 s; a random cloud of 10,000 points, about 110 within the reach (none
counted), 2.3 s; 10,000 points on a sphere, 0.9 s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from e3nn import o3
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..validation import check_pair
from ._curie import _blocks
from ._groups import _labels

__all__ = ["LocalReport", "local_check", "check_graph_settings", "MAX_ENTRIES"]

MAX_ENTRIES = 2_000_000  # (vertex, neighbour within reach) pairs the check holds at once
ROUNDS = 6  # classes re-formed from the vertices that matched no representative
SAMPLE = 8  # points of N_r a candidate map must place before all are checked
TRIES = 8  # candidate maps tried per vertex before it waits for the next round
_CHUNK = 200_000  # candidate maps, or sampled points, handled at once


@dataclass(frozen=True)
class LocalReport:
    """Which vertices a network of ``layers`` convolutions over a radius graph cannot fit.

    Attributes
    ----------
    vertices : indices of the vertices counted (see the module); ``(K,)`` int
    groups : classes of congruent neighbourhoods among them
    global_input_helps : whether a generic global input (an order parameter) tells them all apart
    radius, layers, reach : the graph radius, the layers and :math:`L r`
    hub : whether the graph has a hub
    total : vertices checked
    seconds : the check's duration
    skipped : why the check did not run ("" when it did)
    """

    vertices: np.ndarray
    groups: int
    global_input_helps: bool
    radius: float
    layers: int
    reach: float
    hub: bool
    total: int
    seconds: float
    skipped: str = ""

    @property
    def sentence(self) -> str:
        """What was found, and what would help, in one sentence."""
        reach = f"{self.layers} layers × radius {self.radius:.3g} = {self.reach:.3g}"
        if self.skipped:
            return f"The local check within the reach {reach} did not run: {self.skipped}."
        count = len(self.vertices)
        if count == 0:
            return (f"Each vertex can be fit within the network's reach ({reach}): no two congruent "
                    f"neighbourhoods need displacements related differently.")
        helps = "a larger radius or all pairs, " + ("an order parameter " if self.global_input_helps else "")
        helps += "or per-vertex features"
        verb = "has" if count == 1 else "have"
        return (f"{count} of {self.total} vertices cannot be fit: within the network's reach ({reach}) "
                f"{'it' if count == 1 else 'they'} {verb} neighbourhoods congruent to another's or to their own "
                f"under a rotation or reflection ({self.groups} {'group' if self.groups == 1 else 'groups'}) "
                f"whose displacements are not related the same way; {helps} would tell them apart.")

    def to_dict(self) -> dict:
        """JSON-ready: ``indistinguishable`` (the count), ``reach``, ``sentence``, ``seconds`` and
        ``radius``, ``layers``, ``hub``, ``groups``, ``examples`` (up to 10 vertex indices), ``skipped``."""
        return {"indistinguishable": len(self.vertices), "reach": self.reach, "sentence": self.sentence,
                "seconds": self.seconds, "radius": self.radius, "layers": self.layers, "hub": self.hub,
                "groups": self.groups,
                "examples": self.vertices[:10].tolist(), "skipped": self.skipped}


def check_graph_settings(radius, layers):
    """``ValueError`` unless ``radius`` is a positive number and ``layers`` a whole number >= 1."""
    if isinstance(radius, bool) or not (isinstance(radius, (int, float, np.number)) and np.isfinite(radius)
                                        and radius > 0):
        raise ValueError(f"radius must be a positive number, got {radius!r}")
    if isinstance(layers, bool) or not (isinstance(layers, (int, np.integer)) and layers >= 1):
        raise ValueError(f"layers must be a whole number of at least 1, got {layers!r}")


def local_check(start, target, radius, layers, types=None, *, hub=False, feature=None, tolerance=1e-3):
    """The vertices whose neighbourhoods within :math:`L r` a network cannot tell apart (see the module).

    Parameters
    ----------
    start, target : array_like
        ``(N, 3)``; vertex ``i`` moves to ``target[i]``.
    radius : float
        the graph radius :math:`r` (all pairs reduce to the global Curie check: use `curie_check`).
    layers : int
        convolutions :math:`L`.
    types : array_like, optional
        ``(N,)`` labels (or ``(N, F)`` rows, as in `point_group`); congruence respects them.
    hub : bool
        the graph has a hub: with two or more layers the global check says it all.
    feature : see `curie_check`
        extra inputs that congruence must map (per point) or keep (global).
    tolerance : float
        :math:`\\epsilon`, relative to the median nearest-vertex distance for positions and to
        the largest displacement for displacements.

    Returns
    -------
    `LocalReport`

    Examples
    --------
    >>> grid = np.array([[i, j, 0.0] for i in range(20) for j in range(20)])
    >>> squashed = grid * [1.0, 0.5, 1.0]
    >>> report = local_check(grid, squashed, radius=1.1, layers=2)
    >>> len(report.vertices) > 0, report.global_input_helps
    (True, False)
    """
    began = time.perf_counter()
    x, target_x = check_pair(start, target)
    check_graph_settings(radius, layers)
    if not tolerance > 0:
        raise ValueError(f"tolerance must be positive, got {tolerance!r}")
    radius, layers = float(radius), int(layers)
    n = len(x)
    labels = _labels(types, n, tolerance)
    blocks = _blocks(feature, n)
    d = target_x - x
    tree = cKDTree(x)
    nearest, closest = tree.query(x, k=2)
    tol = tolerance * float(np.median(nearest[:, 1]))
    reach = layers * radius

    def report(vertices=np.zeros(0, dtype=int), groups=0, helps=False, skipped=""):
        return LocalReport(vertices, groups, helps, radius, layers, reach, hub, n, time.perf_counter() - began,
                           skipped)

    if nearest[:, 1].min() <= 2 * tol:
        i = int(np.argmin(nearest[:, 1]))
        return report(skipped=f"vertices {min(i, closest[i, 1])} and {max(i, closest[i, 1])} (nearly) coincide")

    if hub and layers >= 2:
        return report(skipped="through the hub each vertex sees the whole mesh, so the global check says it all")
    pairs = int(tree.count_neighbors(tree, reach + tol)) - n  # ordered pairs of distinct vertices
    if pairs == n * (n - 1):
        return report(skipped="the reach covers the whole mesh, so the global check says it all")
    if pairs > MAX_ENTRIES:
        return report(skipped=f"the neighbourhoods hold {pairs:,} vertex pairs, more than {MAX_ENTRIES:,}")
    largest = np.linalg.norm(d, axis=1).max()
    if largest == 0:
        return report()
    hood = _Neighbourhoods(x, labels, tree, reach + tol, tol)
    classes = _classes(hood, labels, reach, tol, blocks, tolerance)
    flagged, groups, by_identity = _Check(hood, d, blocks, tolerance).conflicts(classes, np.arange(n))
    # a generic global input keeps only the identity: are they then told apart?
    helps = (len(flagged) > 0 and not by_identity
             and not len(_Check(hood, d, blocks, tolerance, True).conflicts(classes, flagged)[0]))
    return report(flagged, groups, helps)


# --- neighbourhoods -----------------------------------------------------------------------------


def _expand(counts):
    """Groups of sizes ``counts`` laid end to end: the group of each element and its place in it."""
    counts = np.asarray(counts, dtype=np.int64)
    group = np.repeat(np.arange(len(counts)), counts)
    return group, np.arange(len(group)) - (np.cumsum(counts) - counts)[group]


class _Neighbourhoods:
    """Each vertex's other vertices within ``ball``, as flat arrays sorted by (vertex, type, distance).

    ``owner``, ``other``, ``offset`` (:math:`x_{other} - x_{owner}`), ``distance`` per entry;
    ``first``, ``count`` per vertex; ``reference``/``second`` per vertex: the entries
    :math:`a`, :math:`b` of its reference pair (-1 when it has none), ``sample`` order.
    """

    def __init__(self, x, labels, tree, ball, tol):
        n = len(x)
        pairs = tree.query_pairs(ball, output_type="ndarray")
        owner, other = np.concatenate([pairs[:, 0], pairs[:, 1]]), np.concatenate([pairs[:, 1], pairs[:, 0]])
        offset = x[other] - x[owner]
        distance = np.linalg.norm(offset, axis=1)
        types = labels.max() + 1
        group = owner * types + labels[other]
        order = np.lexsort((distance, group))
        self.x, self.labels, self.tree, self.ball, self.tol = x, labels, tree, ball, tol
        self.owner, self.other, self.offset, self.distance = owner[order], other[order], offset[order], distance[order]
        self.count = np.bincount(self.owner, minlength=n)
        self.first = np.cumsum(self.count) - self.count
        self._types = types
        sorted_group = group[order]
        starts = np.concatenate([[True], sorted_group[1:] != sorted_group[:-1]])
        self._groups, rank = sorted_group[starts], np.cumsum(starts) - 1
        self._width = 4 * ball + 1
        self._keys = rank * self._width + self.distance
        shell = np.diff(np.stack(self.shell(self.owner, labels[self.other], self.distance)), axis=0)[0]
        self._choose_pair(shell)

    def shell(self, owners, label, distance):
        """Entry ranges ``(lo, hi)`` of the vertices ``owners``: their neighbours of type
        ``label`` at ``distance`` within :math:`2 \\epsilon h`."""
        wanted = owners * self._types + label
        rank = np.minimum(np.searchsorted(self._groups, wanted), len(self._groups) - 1)
        present = self._groups[rank] == wanted
        lo = np.searchsorted(self._keys, rank * self._width + distance - 2 * self.tol)
        hi = np.searchsorted(self._keys, rank * self._width + distance + 2 * self.tol, side="right")
        return lo, np.where(present, hi, lo)

    def _first_by(self, eligible, shell, size):
        """Per vertex with entries: its entry first in the order eligible, fewest alike
        (``shell``), largest ``size``; and the entries in that order, vertex by vertex."""
        span = 4.0 * (shell.max() + 1)
        score = np.where(eligible, 0.0, span / 2) + 2 * shell + 1 - size / np.maximum(self._largest(size), 1e-300)[
            self.owner]
        order = np.argsort(self.owner + score / span, kind="stable")
        chosen = np.full(len(self.count), -1)
        has = self.count > 0
        chosen[has] = order[self.first[has]]
        return chosen, order

    def _largest(self, values):
        """Per vertex, the largest of ``values`` (one per entry) over its entries; 0 for none."""
        largest = np.zeros(len(self.count))
        has = self.count > 0
        largest[has] = np.maximum.reduceat(values, self.first[has])
        return largest

    def _choose_pair(self, shell):
        """``reference`` :math:`a`: far out (at least half the farthest) with the fewest alike;
        ``second`` :math:`b`: well off the line through :math:`a` with the fewest alike, or -1 when
        the neighbourhood is collinear; ``sample``: entries in the reference's order."""
        far = self.distance >= 0.5 * self._largest(self.distance)[self.owner]
        self.reference, self.sample = self._first_by(far, shell, self.distance)
        a = self.offset[self.reference[self.owner]]
        off = np.linalg.norm(np.cross(self.offset, a), axis=1) / np.linalg.norm(a, axis=1)
        widest = self._largest(off)
        self.second, _ = self._first_by(off >= 0.5 * widest[self.owner], shell, off)
        self.collinear = (self.count > 0) & (widest <= 2 * self.tol)
        self.second[self.collinear] = -1


def _classes(hood, labels, reach, tol, blocks, tolerance):
    """Candidate class per vertex: exact type counts, invariants within one cell of what congruence allows.

    Invariants (congruent neighbourhoods differ by at most the bound given): the mean of
    :math:`(|v|/\\rho)^p`, :math:`p = 1, 2, 3` (:math:`p \\epsilon h / \\rho`); :math:`|\\bar v| / \\rho`
    (:math:`\\epsilon h / \\rho`); the eigenvalues of :math:`\\overline{v v^T} / \\rho^2`
    (:math:`2 \\epsilon h / \\rho`); for each per-point input block, :math:`|c_i|` and the mean
    of :math:`|c_k|` over the neighbours (:math:`\\sqrt{2l+1}\\, \\epsilon \\max |c|`). Cells are
    twice the bound; classes join adjacent cells.
    """
    n = len(hood.count)
    owner, count = hood.owner, np.maximum(hood.count, 1)
    weights = np.random.default_rng(0).integers(0, 2**30, size=(2, labels.max() + 1)).astype(float)
    other_labels = labels[hood.other]
    exact = np.column_stack([labels, hood.count] + [np.bincount(owner, w[other_labels], minlength=n) for w in weights])
    scaled = hood.distance / reach
    v = hood.offset / reach
    means = [np.bincount(owner, scaled**p, minlength=n) / count for p in (1, 2, 3)]
    centre = np.stack([np.bincount(owner, v[:, k], minlength=n) for k in range(3)], axis=1) / count[:, None]
    moment = np.stack([np.bincount(owner, v[:, a] * v[:, b], minlength=n) for a in range(3) for b in range(3)],
                      axis=1).reshape(n, 3, 3) / count[:, None, None]
    columns = [*means, np.linalg.norm(centre, axis=1), *np.linalg.eigvalsh(moment).T]
    bounds = list(np.array([1, 2, 3, 1, 2, 2, 2]) * tol / reach)
    for l, c in blocks:
        size = np.linalg.norm(c, axis=1)
        if np.ptp(size) > 0:  # per point
            columns += [size, np.bincount(owner, size[hood.other], minlength=n) / count]
            bounds += 2 * [np.sqrt(2 * l + 1) * tolerance * np.abs(c).max()]
    cells = np.floor(np.column_stack(columns) / (2 * np.array(bounds)))
    kind = np.unique(exact, axis=0, return_inverse=True)[1].ravel()
    rows, cell = np.unique(np.column_stack([10.0 * kind, cells]), axis=0, return_inverse=True)
    pairs = cKDTree(rows).query_pairs(1.0, p=np.inf, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(rows), len(rows)))
    return connected_components(graph, directed=False)[1][cell.ravel()]


# --- maps between neighbourhoods ----------------------------------------------------------------


def _frames(a, b):
    """Rows :math:`\\hat a`, the unit part of :math:`b` orthogonal to it, their cross product: ``(K, 3, 3)``."""
    e1 = a / np.linalg.norm(a, axis=1, keepdims=True)
    e2 = b - (b * e1).sum(axis=1, keepdims=True) * e1
    e2 /= np.linalg.norm(e2, axis=1, keepdims=True)
    return np.stack([e1, e2, np.cross(e1, e2)], axis=1)


def _perpendicular(a):
    """A vector perpendicular to each row of ``a``."""
    return np.cross(a, np.eye(3)[np.argmin(np.abs(a), axis=1)])


def _wigner(l, R):
    """e3nn's :math:`D^l(R)` of parity :math:`(-1)^l` for many maps at once, ``(K, 2l+1, 2l+1)``:
    from :math:`Y^l(R u) = D^l(R)\\, Y^l(u)` on :math:`2l + 1` fixed directions :math:`U`,
    :math:`D^l(R)^T = Y^l(U)^+ Y^l(R U)` (e3nn's own builds each from angles, 100 times slower)."""
    U = np.random.default_rng(0).normal(size=(2 * l + 1, 3))
    turned = torch.as_tensor(np.einsum("kab,ub->kua", R, U).reshape(-1, 3))
    Y = o3.spherical_harmonics(l, turned, normalize=True).numpy().reshape(len(R), len(U), 2 * l + 1)
    base = o3.spherical_harmonics(l, torch.as_tensor(U), normalize=True).numpy()
    return (np.linalg.pinv(base) @ Y).transpose(0, 2, 1)


def _kabsch(p, q, group, k, handedness):
    """Per group ``g < k``: the orthogonal :math:`R_g` with :math:`\\det R_g` = ``handedness[g]``
    that minimises :math:`\\sum |R_g p - q|^2` over the group's rows."""
    H = np.stack([np.bincount(group, q[:, i] * p[:, j], minlength=k) for i in range(3) for j in range(3)],
                 axis=1).reshape(k, 3, 3)
    u, _, vt = np.linalg.svd(H)
    fix = np.ones((k, 3))
    fix[:, 2] = handedness * np.linalg.det(u @ vt)
    return (u * fix[:, None, :]) @ vt


class _Check:
    """Maps between neighbourhoods and the relations they impose on the displacements ``d``.

    With ``identity_only`` only maps within the tolerance of the identity count: those that a
    generic global input (an order parameter) keeps.
    """

    def __init__(self, hood, d, blocks, tolerance, identity_only=False):
        self.hood, self.d, self.tolerance, self.identity_only = hood, d, tolerance, identity_only
        self.blocks = [(l, c, bool(np.ptp(c, axis=0).max() == 0), np.abs(c).max()) for l, c in blocks]
        self.dtol = tolerance * np.linalg.norm(d, axis=1).max()

    def conflicts(self, classes, centres):
        """Indices among ``centres`` that cannot be fit, the number of conflicting classes, and
        whether a relation within the tolerance of the identity is among those that fail."""
        d = self.d
        flagged, groups, by_identity = [], 0, False
        pending = np.asarray(centres)
        for turn in range(ROUNDS + 1):
            if not len(pending):
                break
            cls = classes[pending] if turn < ROUNDS else np.arange(len(pending))
            _, leader, inverse = np.unique(cls, return_index=True, return_inverse=True)
            rep = pending[leader][inverse.ravel()]
            is_rep = rep == pending
            reps, others, their_rep = pending[is_rep], pending[~is_rep], rep[~is_rep]
            own, own_maps = self._maps(reps, reps, every=True)
            found, maps = self._maps(their_rep, others, every=False)
            confirmed, their_rep = others[found], their_rep[found]
            maps = maps[found]
            wrong = np.linalg.norm(d[confirmed] - np.einsum("kab,kb->ka", maps, d[their_rep]), axis=1) > self.dtol
            by_identity |= bool((np.abs(maps[wrong] - np.eye(3)).max(axis=(1, 2)) * self.hood.ball
                                 <= 2 * self.hood.tol).any())
            broken = np.concatenate([  # the representatives of the relations that fail
                own[np.linalg.norm(np.einsum("kab,kb->ka", own_maps, d[own]) - d[own], axis=1) > self.dtol],
                reps[self._continuous_fails(reps)], their_rep[wrong]])
            fails = np.zeros(len(self.hood.count), dtype=bool)  # by representative
            fails[broken] = True
            groups += int(fails.sum())
            flagged += [reps[fails[reps]], confirmed[fails[their_rep]]]
            pending = others[~found]
        return np.sort(np.concatenate(flagged)) if flagged else np.zeros(0, dtype=int), groups, by_identity

    def _continuous_fails(self, reps):
        """Mask over ``reps``: without other inputs, an empty neighbourhood's displacement must
        vanish and a collinear one's lie along its line."""
        hood, d = self.hood, self.d
        if self.blocks or self.identity_only:
            return np.zeros(len(reps), dtype=bool)
        fails = (hood.count[reps] == 0) & (np.linalg.norm(d[reps], axis=1) > self.dtol)
        line = hood.collinear[reps]
        u = hood.offset[hood.reference[reps[line]]]
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        across = d[reps[line]] - (d[reps[line]] * u).sum(axis=1, keepdims=True) * u
        fails[line] = np.linalg.norm(across, axis=1) > self.dtol
        return fails

    def _maps(self, reps, members, every):
        """Maps :math:`N_{reps[k]} \\to N_{members[k]}`. With ``every``: all of them, as
        ``(member per map, (M, 3, 3))``; else per member whether one was found, and that one:
        the candidates are tried closest to the identity first, :data:`TRIES` at most."""
        found = np.zeros(len(members), dtype=bool)
        chosen = np.tile(np.eye(3), (len(members), 1, 1))
        empty = self.hood.count[reps] == 0
        found[empty] = ~self._moves_inputs(chosen[empty], reps[empty], members[empty])
        which, R, identity = self._candidates(reps, members)
        if every:
            keep = np.concatenate([np.flatnonzero(empty & found), which[identity]])
            which, R = self._placing(which[~identity], R[~identity], reps, members)
            ok, R = self._all_placed(which, R, reps, members)
            return members[np.concatenate([keep, which[ok]])], np.concatenate([np.tile(np.eye(3), (len(keep), 1, 1)),
                                                                                R[ok]])
        order = np.lexsort((np.abs(R - np.eye(3)).max(axis=(1, 2)), which))
        which, R = which[order], R[order]
        place = np.arange(len(which)) - np.searchsorted(which, which)
        for attempt in range(TRIES):
            trying = np.flatnonzero((place == attempt) & ~found[which])
            if not len(trying):
                break
            tried, fitted = self._placing(which[trying], R[trying], reps, members)
            ok, fitted = self._all_placed(tried, fitted, reps, members)
            found[tried[ok]] = True
            chosen[tried[ok]] = fitted[ok]
        return found, chosen

    def _candidates(self, reps, members):
        """Maps sending the reference pair of each ``reps[k]`` onto pairs of ``members[k]`` at the
        same distances, both handednesses: ``(k per candidate, (C, 3, 3), mask of the identities)``
        (a representative's pair onto itself, which need no check)."""
        hood = self.hood
        keep = hood.count[reps] > 0
        k = np.flatnonzero(keep)
        a, b = hood.reference[reps[k]], hood.second[reps[k]]
        lo_a, hi_a = hood.shell(members[k], hood.labels[hood.other[a]], hood.distance[a])
        line = b < 0
        lo_b, hi_b = hood.shell(members[k], hood.labels[hood.other[b]], hood.distance[b])
        lo_b, hi_b = np.where(line, 0, lo_b), np.where(line, 1, hi_b)
        group, place = _expand((hi_a - lo_a) * (hi_b - lo_b))
        width = (hi_b - lo_b)[group]
        a2, b2 = lo_a[group] + place // width, lo_b[group] + place % width
        va, va2 = hood.offset[a[group]], hood.offset[a2]
        vb = np.where(line[group, None], _perpendicular(va), hood.offset[np.maximum(b[group], 0)])
        vb2 = np.where(line[group, None], _perpendicular(va2), hood.offset[np.minimum(b2, len(hood.offset) - 1)])
        same = line[group] | ((a2 != b2) & (np.abs(np.linalg.norm(va2 - vb2, axis=1)
                                                    - np.linalg.norm(va - vb, axis=1)) <= 3 * hood.tol))
        itself = (a2 == a[group]) & (line[group] | (b2 == b[group]))
        group, va, vb, va2, vb2, itself = group[same], va[same], vb[same], va2[same], vb2[same], itself[same]
        source, image = _frames(va, vb), _frames(va2, vb2)
        flip = np.array([1.0, 1.0, -1.0])
        R = np.concatenate([image.transpose(0, 2, 1) @ source,
                            image.transpose(0, 2, 1) @ (flip[None, :, None] * source)])
        which, identity = np.concatenate([k[group], k[group]]), np.concatenate([itself, np.zeros_like(itself)])
        near = self._keeps_global(R, 0.05)  # refitted maps are checked within the tolerance
        if self.identity_only:
            near &= np.abs(R - np.eye(3)).max(axis=(1, 2)) <= 0.05
        return which[near], R[near], identity[near]

    def _placed(self, which, R, reps, members, limit, points, bound=np.inf):
        """Refit each map on its points of :math:`N_r` (``points`` per map: the first ones in
        sample order) and keep those placing them all within ``limit`` onto distinct points of
        the same type (and, for the full check, keeping the inputs): ``(mask, refitted maps)``.
        Before the refit, a point must land within ``bound`` of its image."""
        hood, n = self.hood, len(self.hood.x)
        ok = np.zeros(len(which), dtype=bool)
        refit = R.copy()
        sizes = np.minimum(hood.count[reps[which]], points)
        starts = np.concatenate([[0], np.cumsum(sizes)])
        cuts = np.unique(np.searchsorted(starts, np.arange(0, starts[-1], _CHUNK), side="right") - 1)
        for lo, hi in zip(cuts, list(cuts[1:]) + [len(which)]):
            part = np.arange(lo, hi)
            group, place = _expand(sizes[part])
            r, m = reps[which[part]], members[which[part]]
            entry = hood.sample[hood.first[r[group]] + place]
            source = hood.offset[entry]
            image = np.einsum("kab,kb->ka", R[part][group], source)
            _, nearest = hood.tree.query(hood.x[m[group]] + image, distance_upper_bound=bound)
            missing = nearest == n
            nearest[missing] = m[group][missing]
            target = hood.x[nearest] - hood.x[m[group]]
            fitted = _kabsch(source, target, group, len(part), np.sign(np.linalg.det(R[part])))
            error = np.linalg.norm(np.einsum("kab,kb->ka", fitted[group], source) - target, axis=1)
            wrong = missing | (error > limit) | (hood.labels[nearest] != hood.labels[hood.other[entry]])
            if points > SAMPLE:
                wrong |= self._moves_inputs(fitted, hood.other[entry], nearest, group)
            bad = np.bincount(group, wrong, minlength=len(part)) > 0
            key = np.sort(group * n + nearest)
            bad[key[1:][key[1:] == key[:-1]] // n] = True  # two points onto one
            if points > SAMPLE:
                bad |= self._moves_inputs(fitted, r, m)
            ok[part] = ~bad
            refit[part] = fitted
        return ok, refit

    def _placing(self, which, R, reps, members):
        """The candidates that place the sample within :math:`4 \\epsilon h`, refitted on it."""
        ok, fitted = self._placed(which, R, reps, members, 4 * self.hood.tol, SAMPLE)
        return which[ok], fitted[ok]

    def _all_placed(self, which, R, reps, members):
        """Mask of the maps that place all of :math:`N_r` within :math:`\\epsilon h` and keep
        the inputs (and the identity, with ``identity_only``), and the maps refitted on all."""
        ok, R = self._placed(which, R, reps, members, self.hood.tol, np.iinfo(np.int64).max, 8 * self.hood.tol)
        if self.identity_only:
            ok &= np.abs(R - np.eye(3)).max(axis=(1, 2)) * self.hood.ball <= 2 * self.hood.tol
        return ok, R

    def _keeps_global(self, R, share):
        """Mask: the maps keep each global input block, :math:`|D^l(R) c - c| \\le` ``share``
        :math:`\\max |c|`."""
        keep = np.ones(len(R), dtype=bool)
        for l, c, is_global, scale in self.blocks:
            if is_global and scale > 0:
                keep &= np.abs(np.einsum("kab,b->ka", _wigner(l, R), c[0]) - c[0]).max(axis=1) <= share * scale
        return keep

    def _moves_inputs(self, R, source, image, group=None):
        """Mask: the input blocks break :math:`D^l(R_k) c_{source_k} = c_{image_k}` (within
        :math:`\\epsilon` times the block's largest magnitude). With ``group``, row ``k`` uses the
        map ``R[group[k]]`` and global blocks, kept at the centre, are skipped."""
        wrong = np.zeros(len(source), dtype=bool)
        for l, c, is_global, scale in self.blocks:
            if scale == 0 or (group is not None and is_global):
                continue
            D = _wigner(l, R)
            moved = np.einsum("kab,kb->ka", D if group is None else D[group], c[source])
            wrong |= np.abs(moved - c[image]).max(axis=1) > self.tolerance * scale
        return wrong
