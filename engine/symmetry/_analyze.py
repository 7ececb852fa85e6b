"""The whole analysis of a start and target, as a JSON-ready dict."""

from ._curie import _start_and_target, curie_check
from ._order_parameter import _global_order_parameter, _point_order_parameter


def analyze(start, target, types=None, *, lmax=5, tolerance=1e-3, progress=None, cancel=None):
    """Curie check and order parameters, as a JSON-ready dict.

    Keys: ``start_group``, ``start_order``, ``kept_group``, ``kept_order`` (None for an infinite
    group), ``learnable``, ``broken_operations`` (count; None when the start's group is infinite,
    C∞v or D∞h), ``order_parameter`` and
    ``point_order_parameter`` (``{l, parity, coefficients, description}`` or None) and a
    one-sentence ``verdict``. ``progress(done, total)`` and ``cancel()`` work as in
    `point_group` (`AnalysisCancelled` when cancelled), so the analysis can run off the UI thread.
    """
    x0, x1 = _start_and_target(start, target)
    report = curie_check(x0, x1, types, tolerance=tolerance, progress=progress, cancel=cancel)
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
        "broken_operations": None if G.infinite else len(report.broken),
        "order_parameter": found.to_dict() if found else None,
        "point_order_parameter": point.to_dict() if point else None,
        "verdict": _verdict(report, found, point, lmax),
    }


def _json_order(group):
    return None if group.infinite else group.order


def _verdict(report, found, point, lmax):
    G, H = report.start_group, report.kept
    if report.learnable:
        return f"Learnable: the target keeps every symmetry of the start's group {G.name}."
    count = "" if G.infinite else f"{len(report.broken)} of the {len(G.operations)} "
    broken = f"Not learnable: the target breaks {count}operations of {G.name}, keeping {H.name}"
    if found is None or found.symmetry != H.name:
        per_point = f"the per-point one ({point.description})"
        return f"{broken}; no global order parameter up to L={lmax} does that, so add {per_point}."
    return f"{broken}; add the order parameter {found.description} as an input."
