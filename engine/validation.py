"""The one check of points and training problems, cheap and without torch: run it before
handing work to another thread or process, so that bad input fails at once in one sentence."""

from __future__ import annotations

import numpy as np

from .config import ModelConfig
from .order_parameter import OrderParameter

__all__ = ["MAX_ALL_PAIRS", "check_points", "check_pair", "check_types", "check_problem", "check_graph_size"]

MAX_ALL_PAIRS = 100  # points; all pairs of more train slowly (150 points: 0.7 s a step)


def check_points(points, name: str = "points") -> np.ndarray:
    """``(N, 3)`` finite float64 array with :math:`N \\ge 2`, or ``ValueError`` saying what is wrong."""
    try:
        array = np.asarray(points)
        if array.dtype.kind == "c":
            raise ValueError("complex numbers are not coordinates")
        array = array.astype(np.float64)
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"{name} must be real numbers of shape (N, 3): {error}") from None
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"{name} must have shape (N, 3), got {array.shape}")
    if len(array) < 2:
        raise ValueError(f"{name} must have at least 2 points, got {len(array)}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite coordinates")
    return array


def check_pair(start, target) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``(start, target)``: point sets of the same length (point ``i`` moves to point ``i``)."""
    start, target = check_points(start, "start"), check_points(target, "target")
    if start.shape != target.shape:
        raise ValueError(f"start and target must have the same number of points, got {len(start)} and {len(target)}")
    return start, target


def check_types(types, num_points: int) -> np.ndarray | None:
    """``(N,)`` int64 vertex types, one integer per point (None stays None: untyped), or
    ``ValueError`` saying what is wrong."""
    if types is None:
        return None
    try:
        array = np.asarray(types)
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"types must be integers, one per point: {error}") from None
    if array.dtype.kind not in "iu":
        raise ValueError(f"types must be integers, one per point, got {array.dtype} values")
    if array.shape != (num_points,):
        shape = f"{len(array)} points" if array.ndim == 1 else f"shape {array.shape}"
        raise ValueError(f"types must be one integer per point ({num_points}), got {shape}")
    checked = array.astype(np.int64)
    if not np.array_equal(checked, array):
        raise ValueError("types must be integers below 2**63")
    return checked


def check_order_parameter(order_parameter: OrderParameter | None, num_points: int) -> None:
    """``ValueError`` when a per-point ``order_parameter`` is not given for ``num_points`` points."""
    if order_parameter is None:
        return
    if not isinstance(order_parameter, OrderParameter):
        raise ValueError(f"order_parameter must be an OrderParameter, got {type(order_parameter).__name__}")
    if not order_parameter.is_global and order_parameter.num_points != num_points:
        raise ValueError(f"The order parameter is given for {order_parameter.num_points} points, "
                         f"but there are {num_points}")


def check_problem(start, target, config: ModelConfig,
                  order_parameter: OrderParameter | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``(start, target)`` for training with ``config`` and ``order_parameter``."""
    if not isinstance(config, ModelConfig):
        raise ValueError(f"config must be a ModelConfig, got {type(config).__name__}")
    start, target = check_pair(start, target)
    check_order_parameter(order_parameter, len(start))
    from .graph_size import MAX_TRAINING_EDGES, check_graph  # imports no torch

    check_graph(start, config.radius, MAX_TRAINING_EDGES)
    return start, target


def check_graph_size(num_points: int, radius: float | None) -> None:
    """``ValueError`` for all pairs of more than :data:`MAX_ALL_PAIRS` points: use a radius graph,
    whose cost grows with its edges instead of :math:`N^2`."""
    if radius is None and num_points > MAX_ALL_PAIRS:
        raise ValueError(f"{num_points} points are too many to convolve over all pairs (at most "
                         f"{MAX_ALL_PAIRS}); set a graph radius")
    if radius is not None and not radius > 0:
        raise ValueError(f"The graph radius must be positive, got {radius}")
