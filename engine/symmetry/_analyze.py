"""The whole analysis of a start and target, as a JSON-ready dict: one point group, Curie's
check without and with the given input, the order parameters that would fix it, and the local
check of a radius graph."""

from ..errors import Cancelled
from ..order_parameter import fixes_target
from ..validation import check_order_parameter, check_pair
from ._curie import curie_report
from ._groups import point_group
from ._local import check_graph_settings, local_check
from ._order_parameter import _global_order_parameter, _point_order_parameter


def analyze(start, target, order_parameter=None, types=None, *, lmax=5, tolerance=1e-3, radius=None, layers=3,
            hub=True, progress=None, cancel=None):
    """Curie check and order parameters, as a JSON-ready dict.

    Keys: ``start_group``, ``start_order``, ``kept_group``, ``kept_order`` (None for an infinite
    group), ``learnable``, ``broken_operations`` (count; None when the start's group is infinite,
    C∞v or D∞h), ``order_parameter`` and ``point_order_parameter`` (``OrderParameter.to_dict()``
    or None), a one-sentence ``verdict``; then ``inputs``, naming the input ``order_parameter``
    (an `~engine.order_parameter.OrderParameter` or None) whose significant degrees were
    checked, and ``warning``: "" when the target is learnable with that input, else what to do;
    ``local``: `LocalReport.to_dict` of the network's graph (``radius``, ``layers``, ``hub``) with that
    input, whose sentence ends the warning when it counts vertices, or None for all pairs
    (``radius=None``), where the global check says it all. The ``verdict`` is Curie's alone.

    The start's point group is found once and serves both checks. ``progress(step, 2)`` is
    called with fractional steps below 1 while the group's candidate operations are tested,
    after the group and at the end; ``cancel()`` is polled between candidates and after the
    group, so the analysis can run cancellably off the UI thread.
    """
    x0, x1 = check_pair(start, target)
    check_order_parameter(order_parameter, len(x0))
    if radius is not None:
        check_graph_settings(radius, layers)
    searching = None if progress is None else (lambda done, total: progress(done / max(total, 1), 2))
    group = point_group(x0, types, tolerance=tolerance, progress=searching, cancel=cancel)
    report = curie_report(group, x0, x1, tolerance=tolerance)
    if progress is not None:
        progress(1, 2)
    if cancel is not None and cancel():
        raise Cancelled("Analysis cancelled")
    G, H = report.start_group, report.kept
    found = point = None
    if not report.learnable:
        found = _global_order_parameter(report, x0, x1, lmax, tolerance)
        point = _point_order_parameter(report, x1 - x0, tolerance)
    blocks = [] if order_parameter is None else order_parameter.significant()
    checked = curie_report(group, x0, x1, blocks, tolerance=tolerance) if blocks else report
    inputs = "no symmetry-breaking input" if order_parameter is None else f"the input {order_parameter.description}"
    local = None if radius is None else local_check(x0, x1, radius, layers, types, hub=hub,
                                                    feature=blocks or None, tolerance=tolerance).to_dict()
    if cancel is not None and cancel():
        raise Cancelled("Analysis cancelled")
    if progress is not None:
        progress(2, 2)
    result = {
        "start_group": G.name,
        "start_order": _json_order(G),
        "kept_group": H.name,
        "kept_order": _json_order(H),
        "learnable": report.learnable,
        "broken_operations": None if G.infinite else len(report.broken),
        "order_parameter": found.to_dict() if found else None,
        "point_order_parameter": point.to_dict() if point else None,
        "verdict": _verdict(report, found, point, lmax),
        "inputs": inputs,
        "local": local,
    }
    warning = _warning(checked, found if fixes_target(result) else None, inputs)
    if local and local["indistinguishable"]:
        warning = f"{warning}. {local['sentence']}" if warning else local["sentence"]
    return {**result, "warning": warning}


def _counted(count, noun):
    """``1 operation``, ``2 operations``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _json_order(group):
    return None if group.infinite else group.order


def _verdict(report, found, point, lmax):
    G, H = report.start_group, report.kept
    if report.learnable:
        return f"Learnable: the target keeps every symmetry of the start's group {G.name}."
    count = "operations" if G.infinite else f"{len(report.broken)} of the {_counted(len(G.operations), 'operation')}"
    broken = f"Not learnable: the target breaks {count} of {G.name}, keeping {H.name}"
    if found is None or found.symmetry != H.name:
        per_point = f"the per-point one ({point.description})"
        return f"{broken}; no global order parameter up to L={lmax} does that, so add {per_point}."
    return f"{broken}; add the order parameter {found.description} as an input."


def _warning(checked, found, inputs):
    """What to do when the target is not learnable with the checked inputs; "" when it is.
    ``found``: the global order parameter that keeps exactly the target's group, or None."""
    if checked.learnable:
        return ""
    how = (f"add the order parameter {found.description} (Use Order Parameter)" if found else
           "no global order parameter fixes it (see Analyze Symmetry)")
    broken = _counted(len(checked.broken), "operation")
    return (f"Not learnable with {inputs}: the target breaks {broken} of {checked.start_group.name}, "
            f"keeping {checked.kept_name}; {how}")
