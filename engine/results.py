"""What the engine hands back: frozen dataclasses of numpy arrays, numbers and bytes (no torch),
so that a result pickles into another process and writes to JSON or ``.npz``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .order_parameter import OrderParameter

__all__ = ["EngineInfo", "Prediction", "Fit", "TrainResult", "Learned", "Surfaces"]


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
class Fit:
    r"""How close the prediction came to the target, in units of the largest displacement.

    With errors :math:`e_i = |\vec x^{\,\mathrm{predicted}}_i - \vec x^{\,\mathrm{target}}_i|` and
    :math:`D = \max_i |\vec x^{\,\mathrm{target}}_i - \vec x^{\,\mathrm{start}}_i|` (1 when nothing
    moves, so the errors are then absolute):

    Attributes
    ----------
    largest_displacement : :math:`D`
    max_error : :math:`\max_i e_i / D`
    mean_error : :math:`\mathrm{mean}_i\, e_i / D`
    within : share of points with :math:`e_i \le` ``WITHIN`` :math:`\cdot D` (0..1)
    """

    largest_displacement: float
    max_error: float
    mean_error: float
    within: float

    WITHIN = 0.05  # "on target": within 5 % of the largest displacement

    @classmethod
    def of(cls, start, target, predicted) -> "Fit":
        """The fit of ``(N, 3)`` predicted positions to a target reached from ``start``."""
        start, target, predicted = (np.asarray(a, dtype=np.float64) for a in (start, target, predicted))
        largest = float(np.linalg.norm(target - start, axis=1).max())
        unit = largest if largest > 0 else 1.0
        errors = np.linalg.norm(predicted - target, axis=1) / unit
        return cls(largest, float(errors.max()), float(errors.mean()), float(np.mean(errors <= cls.WITHIN)))

    def summary(self) -> str:
        """One line, e.g. ``max error 3.1 %, mean 0.8 % of the largest displacement 0.2; 97 % of
        vertices within 5 %``."""
        return (f"max error {100 * self.max_error:.3g} %, mean {100 * self.mean_error:.3g} % of the largest "
                f"displacement {self.largest_displacement:.3g}; {100 * self.within:.0f} % of vertices within "
                f"{100 * self.WITHIN:.0f} %")

    def to_dict(self) -> dict:
        return {"largest_displacement": self.largest_displacement, "max_error": self.max_error,
                "mean_error": self.mean_error, "within": self.within, "within_tolerance": self.WITHIN}

    @classmethod
    def from_dict(cls, d: dict) -> "Fit":
        """The inverse of :meth:`to_dict`; ``ValueError`` for anything else."""
        try:
            values = [float(d[k]) for k in ("largest_displacement", "max_error", "mean_error", "within")]
        except (KeyError, TypeError, ValueError):
            raise ValueError("A fit record needs the numbers largest_displacement, max_error, mean_error "
                             "and within") from None
        if not all(np.isfinite(values)) or min(values) < 0 or values[3] > 1:
            raise ValueError(f"A fit record holds non-negative finite errors and a share in 0..1, got {values}")
        return cls(*values)


@dataclass(frozen=True)
class TrainResult:
    """A trained model and its :class:`Prediction` on the training points.

    Attributes
    ----------
    prediction : the decoded outputs of the trained model
    model : the checkpoint (``engine.checkpoint`` bytes: plain arrays, never code)
    loss_history : ``(T,)`` the loss before each step, with the displacements in units of the
        largest (``fit.largest_displacement``), so that it reads the same at any scale
    final_loss : the loss of the returned outputs (after the last step), in the same units
    seconds : wall time from the call to the trained model
    fit : the prediction's position errors against the target (:class:`Fit`)
    """

    prediction: Prediction
    model: bytes
    loss_history: np.ndarray
    final_loss: float
    seconds: float
    fit: Fit


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
