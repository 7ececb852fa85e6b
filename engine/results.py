"""What the engine hands back: frozen dataclasses of numpy arrays, numbers and bytes (no torch),
so that a result pickles into another process and writes to JSON or ``.npz``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .order_parameter import OrderParameter

__all__ = ["EngineInfo", "Prediction", "TrainResult", "Learned", "Surfaces"]


@dataclass(frozen=True)
class EngineInfo:
    """The loaded engine: library versions, torch's intra-op threads and its devices."""

    torch: str
    e3nn: str
    threads: int
    devices: tuple[str, ...]


@dataclass(frozen=True)
class Prediction:
    """What the network says about a point set.

    Attributes
    ----------
    signals : ``(N, D)`` raw outputs (signals, or ``1o`` vectors with ``output='vector'``)
    displacements : ``(N, 3)`` decoded displacements (highest peak)
    predicted : ``(N, 3)`` start plus displacement
    ambiguous : ``(N,)`` bool, tied peaks (never resolved)
    peaks : list of ``(k_i, 3)`` arrays, every tied peak's displacement
    """

    signals: np.ndarray
    displacements: np.ndarray
    predicted: np.ndarray
    ambiguous: np.ndarray
    peaks: list


@dataclass(frozen=True)
class TrainResult:
    """A trained model and its :class:`Prediction` on the training points.

    Attributes
    ----------
    prediction : the decoded outputs of the trained model
    model : the checkpoint (``engine.checkpoint`` bytes: plain arrays, never code)
    loss_history : ``(T,)`` the loss before each step
    final_loss : the loss of the returned outputs (after the last step)
    seconds : wall time from the call to the trained model
    """

    prediction: Prediction
    model: bytes
    loss_history: np.ndarray
    final_loss: float
    seconds: float


@dataclass(frozen=True)
class Learned:
    """An order parameter learned alongside the network, and the loss of the network steps."""

    order_parameter: OrderParameter
    loss_history: np.ndarray


@dataclass(frozen=True)
class Surfaces:
    """Surfaces :math:`\\vec x = \\vec c + s\\,|f(\\hat u)|\\,\\hat u` of many signals on one grid.

    Attributes
    ----------
    vertices : ``(S, V, 3)``
    faces : ``(F, 3)`` int, shared by every surface
    values : ``(S, V)`` signed :math:`f(\\hat u)`
    """

    vertices: np.ndarray
    faces: np.ndarray
    values: np.ndarray
