"""The seed's three tasks: four points in a square or a rectangle in the xy plane (plain numpy).

The rectangle is the square scaled by :math:`(s_x, s_y) = (0.5, 1.5)`; both are centred.
Task 3 adds the order parameter that breaks the square's symmetry as the rectangle does,
the degree-2 input :math:`Y_2(\\hat x) - Y_2(\\hat y) \\propto x^2 - y^2`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .order_parameter import OrderParameter, axis_pair

__all__ = ["Task", "TASKS", "square", "rectangle"]


def square() -> np.ndarray:
    """Unit square in the xy plane, centred: ``(4, 3)``."""
    points = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    return points - points.mean(axis=0)


def rectangle(sx: float = 0.5, sy: float = 1.5) -> np.ndarray:
    """The square scaled by ``(sx, sy)`` in the xy plane, centred: ``(4, 3)``."""
    points = square() * np.array([sx, sy, 0.0])
    return points - points.mean(axis=0)


@dataclass(frozen=True)
class Task:
    """A start, a target and the order parameter to train with (None: the scalar input only).

    ``title`` is the short name shown to people, ``description`` one sentence on what happens.
    """

    name: str
    title: str
    start: np.ndarray
    target: np.ndarray
    order_parameter: OrderParameter | None
    description: str = ""


TASKS = {
    task.name: task
    for task in [
        Task("rectangle-to-square", "Rectangle → Square", rectangle(), square(), None,
             "Task 1: learnable, the output is more symmetric"),
        Task("square-to-rectangle", "Square → Rectangle", square(), rectangle(), None,
             "Task 2: not learnable, the square's symmetry survives"),
        Task("square-to-rectangle-broken", "Square → Rectangle (broken)", square(), rectangle(),
             axis_pair((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
             "Task 3: learnable once an x²−y² input breaks the square's symmetry"),
    ]
}
