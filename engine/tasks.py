"""The seed's three tasks: four points in a square or a rectangle in the xy plane.

The rectangle is the square scaled by :math:`(s_x, s_y) = (0.5, 1.5)`; both are centred.
Task 3 adds the order parameter that breaks the square's symmetry as the rectangle does,
the degree-2 feature :math:`Y_2(\\hat x) - Y_2(\\hat y) \\propto x^2 - y^2`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .signals import breaking_feature
from .training import Features

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
    """A start, a target and the input features to train with."""

    name: str
    start: np.ndarray
    target: np.ndarray
    features: Features


TASKS = {
    task.name: task
    for task in [
        Task("rectangle-to-square", rectangle(), square(), Features.scalar(4)),
        Task("square-to-rectangle", square(), rectangle(), Features.scalar(4)),
        Task("square-to-rectangle-broken", square(), rectangle(),
             Features.with_global(4, "2e", breaking_feature((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)))),
    ]
}
