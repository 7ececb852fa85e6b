"""Order parameters: the lowest spherical-harmonic input that breaks a symmetry like the target."""

import numpy as np
import torch
from e3nn import o3

from ..order_parameter import OrderParameter
from ..validation import check_pair
from ._curie import _keeps_feature, _wigner_d, curie_check
from ._groups import _subgroup


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
    is returned; if none is, the one leaving the least symmetry (its ``symmetry``).

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
    x0, x1 = check_pair(start, target)
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
        one block of shape ``(N, 2l+1)``; None when the target is learnable.
    """
    x0, x1 = check_pair(start, target)
    report = curie_check(x0, x1, types, tolerance=tolerance)
    if report.learnable:
        return None
    return _point_order_parameter(report, x1 - x0, tolerance)


# --- projections --------------------------------------------------------------------------------


def _projector(l, ops):
    """:math:`P = \\frac{1}{K} \\sum_k D^l(R_k)`, the projector onto the invariant signals."""
    return _wigner_d(l, ops).mean(axis=0)


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
    return OrderParameter({l: c}, "group theory", f"L={l}, {_parity(l)}, {_described(l, c)}", left.name)


def _point_order_parameter(report, d, tolerance):
    """See `point_order_parameter`."""
    G, H = report.start_group, report.kept
    g_orbits, h_orbits = _orbits(G.permutations), _orbits(H.permutations)
    labels = h_orbits[:, None].astype(float)
    left = _keeps_feature(G, (0, labels), len(d), tolerance).sum()
    if h_orbits.max() > g_orbits.max() and left == len(H.operations):
        description = f"L=0, even, labels the {h_orbits.max() + 1} orbits of {H.name} among the points"
        return OrderParameter({0: labels}, "group theory", description, H.name)
    average = np.zeros_like(d)
    for R, perm in zip(G.operations, G.permutations):
        average[perm] += d @ R.T
    broken = d - average / len(G.operations)
    c = _sh(1, broken, normalize=False)
    description = f"L=1, odd, the part of each point's displacement that {G.name} forbids"
    return OrderParameter({1: c / np.linalg.norm(c, axis=1).max()}, "group theory", description, H.name)


def _orbits(permutations):
    """Orbit label per point: points :math:`\\pi_k(i)` share the label of :math:`\\min_k \\pi_k(i)`."""
    return np.unique(permutations.min(axis=0), return_inverse=True)[1]


def _parity(l):
    return "even" if l % 2 == 0 else "odd"


# --- descriptions -------------------------------------------------------------------------------

_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
SMALL_TERM = 0.1  # terms below this share of the largest coefficient are left out of a description


def _described(l, c):
    """The signal in the points' own axes: ``along (0.58, 0.58, 0.58)`` (or ``along z``) for
    :math:`l = 1`, else ``∝`` its harmonic polynomial (see `_polynomial`), positive terms first,
    without the terms below :data:`SMALL_TERM` of the largest: ``∝ y² − x²``."""
    powers, coef = _polynomial(l, c)
    if l == 1:  # the monomials are x, y, z
        direction = np.round(coef / np.linalg.norm(coef), 2) + 0.0
        if np.count_nonzero(direction) == 1:
            return f"along {'−' if direction.sum() < 0 else ''}{'xyz'[np.flatnonzero(direction)[0]]}"
        return "along (" + ", ".join(f"{v:.2f}".replace("-", "−") for v in direction) + ")"
    kept = [(k, p) for k, p in zip(coef, powers) if abs(k) >= SMALL_TERM]
    text = " ".join(_term(k, p) for k, p in sorted(kept, key=lambda term: term[0] < 0))  # positive first
    return "∝ " + (text[2:] if text.startswith("+ ") else "−" + text[2:])


def _polynomial(l, c):
    """The signal :math:`\\sum_m c_m r^l Y^l_m` as a polynomial in the points' x, y, z:
    ``(powers, coefficients)``, the monomials :math:`x^i y^j z^k` with :math:`i + j + k = l`
    fitted exactly on random points and scaled to a largest magnitude of 1, to 2 decimals."""
    powers = [(i, j, l - i - j) for i in range(l, -1, -1) for j in range(l - i, -1, -1)]
    u = np.random.default_rng(0).normal(size=(3 * len(powers), 3))
    values = _sh(l, u, normalize=False) @ c
    monomials = np.stack([np.prod(u**p, axis=1) for p in powers], axis=1)
    coef = np.linalg.lstsq(monomials, values, rcond=None)[0]
    return powers, np.round(coef / np.abs(coef).max(), 2)


def _term(k, powers):
    monomial = "".join(
        v + (str(p).translate(_SUPERSCRIPTS) if p > 1 else "") for v, p in zip("xyz", powers) if p
    )
    size = "" if abs(k) == 1 else f"{abs(k):g}"
    return ("− " if k < 0 else "+ ") + size + monomial
