r"""The one order-parameter type: an extra network input that breaks a symmetry (plain numpy).

An order parameter is a set of spherical-harmonic blocks :math:`c_l` of degree :math:`l` and
parity :math:`(-1)^l`, in e3nn's basis (``o3.spherical_harmonics(l, r, normalize=True)``, y the
polar axis), either one global value given to every point or one value per point. The
network reads it after the scalar 1 of every point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ORIGINS", "OrderParameter", "axis_pair", "irreps_of", "fixes_target", "SIGNIFICANT_SHARE"]

ORIGINS = ("group theory", "learned", "axis pair", "vertex group")
SIGNIFICANT_SHARE = 10.0  # percent of the norm a degree must carry to matter


def fixes_target(analysis: dict) -> bool:
    """Whether a symmetry analysis's global order parameter (``engine.api.analyze``'s dict) keeps
    exactly the target's group, so that adding it makes the target learnable; when none does, the
    analysis gives the closest one, which keeps another group."""
    found = analysis.get("order_parameter") or {}
    return found.get("symmetry") == analysis.get("kept_group")


def irreps_of(degrees) -> str:
    """``"1o+2e+3o"`` for degrees 1, 2, 3: one copy each, parity :math:`(-1)^l`."""
    return "+".join(f"{l}{'e' if l % 2 == 0 else 'o'}" for l in degrees)


@dataclass(frozen=True, eq=False)
class OrderParameter:
    """A symmetry-breaking input, validated on construction.

    Attributes
    ----------
    blocks : ``{l: coefficients}``, each ``(2l+1,)`` for a global input or ``(N, 2l+1)`` per point
    origin : {'group theory', 'learned', 'axis pair', 'vertex group'}
    description : plain words, in the points' own axes, e.g. ``'L=2, even, ∝ x² − y²'``
    symmetry : the name of the start's group that is left with this input ('' when not known)

    >>> p = axis_pair((1, 0, 0), (0, 1, 0))
    >>> p.irreps, p.is_global, p.description
    ('2e', True, 'L=2, even, ∝ x² − y²')
    """

    blocks: dict
    origin: str
    description: str
    symmetry: str = ""
    _shape: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.origin not in ORIGINS:
            raise ValueError(f"An order parameter's origin is one of {', '.join(ORIGINS)}, got {self.origin!r}")
        if not isinstance(self.blocks, dict) or not self.blocks:
            raise ValueError("An order parameter needs at least one block {l: coefficients}")
        blocks, leading = {}, set()
        for l in sorted(self.blocks):
            if not (isinstance(l, (int, np.integer)) and not isinstance(l, bool) and 0 <= l <= 10):
                raise ValueError(f"An order parameter's degrees are integers in 0..10, got {l!r}")
            try:
                c = np.array(self.blocks[l], dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"The L={l} block of the order parameter is not numbers") from None
            if c.ndim not in (1, 2) or c.shape[-1] != 2 * l + 1:
                raise ValueError(f"The L={l} block needs shape ({2 * l + 1},) or (N, {2 * l + 1}), got {c.shape}")
            if not np.isfinite(c).all():
                raise ValueError(f"The L={l} block of the order parameter contains NaN or infinite values")
            c.flags.writeable = False
            blocks[int(l)] = c
            leading.add(c.shape[:-1])
        if len(leading) != 1:
            raise ValueError("An order parameter's blocks must be all global or all per point for the same points")
        object.__setattr__(self, "blocks", blocks)
        object.__setattr__(self, "_shape", leading.pop())

    @property
    def is_global(self) -> bool:
        """One value for every point (rather than one per point)."""
        return self._shape == ()

    @property
    def num_points(self) -> int | None:
        """The number of points of a per-point input; None for a global one."""
        return None if self.is_global else self._shape[0]

    @property
    def degrees(self) -> list[int]:
        return list(self.blocks)

    @property
    def irreps(self) -> str:
        """e3nn irreps of the input, one copy per degree: ``"2e"``, ``"1o+2e+3o"``."""
        return irreps_of(self.blocks)

    @property
    def values(self) -> np.ndarray:
        """All blocks side by side, lowest degree first: ``(D,)`` or ``(N, D)``."""
        return np.concatenate(list(self.blocks.values()), axis=-1)

    def shares(self) -> dict[int, float]:
        r"""Percent of the norm each degree carries, :math:`100\,|c_l| / \sum_k |c_k|` (adding up to 100)."""
        norms = {l: float(np.linalg.norm(c)) for l, c in self.blocks.items()}
        total = sum(norms.values()) or 1.0
        return {l: 100.0 * norm / total for l, norm in norms.items()}

    def significant(self) -> list[tuple[int, np.ndarray]]:
        """``(l, coefficients)`` of the degrees that matter, the largest first: those carrying at
        least :data:`SIGNIFICANT_SHARE` percent of the norm, whatever the overall scale."""
        shares = self.shares()
        ranked = sorted(self.blocks, key=shares.__getitem__, reverse=True)
        return [(l, self.blocks[l]) for l in ranked if shares[l] >= SIGNIFICANT_SHARE]

    def signal(self, lmax: int | None = None) -> np.ndarray:
        """A global input as one signal ``((lmax+1)^2,)`` with degrees ``0..lmax`` (the highest
        degree by default), zero where it has no block."""
        if not self.is_global:
            raise ValueError("A per-point order parameter is not one signal")
        lmax = max(self.blocks) if lmax is None else lmax
        if max(self.blocks) > lmax:
            raise ValueError(f"The order parameter has degree {max(self.blocks)}, above lmax={lmax}")
        signal = np.zeros((lmax + 1) ** 2)
        for l, c in self.blocks.items():
            signal[l * l:(l + 1) ** 2] = c
        return signal

    def to_dict(self) -> dict:
        """JSON-ready: ``{"irreps", "blocks": {"2": [...]}, "origin", "description", "symmetry"}``."""
        return {"irreps": self.irreps, "blocks": {str(l): c.tolist() for l, c in self.blocks.items()},
                "origin": self.origin, "description": self.description, "symmetry": self.symmetry}

    @classmethod
    def from_dict(cls, data) -> "OrderParameter":
        """The inverse of :meth:`to_dict`, validating; ``ValueError`` for anything else."""
        if not isinstance(data, dict) or not isinstance(data.get("blocks"), dict):
            raise ValueError("An order parameter is a dict with blocks {l: coefficients}")
        try:
            blocks = {int(l): c for l, c in data["blocks"].items()}
        except (TypeError, ValueError):
            raise ValueError(f"An order parameter's degrees are integers, got {list(data['blocks'])}") from None
        return cls(blocks, str(data.get("origin", "")), str(data.get("description", "")),
                   str(data.get("symmetry", "")))


_AXIS_NAMES = {(1, 0, 0): "x", (0, 1, 0): "y", (0, 0, 1): "z"}


def _degree_two(u: np.ndarray) -> np.ndarray:
    """e3nn's ``o3.spherical_harmonics(2, u, normalize=True)`` of a unit vector (integral
    normalisation), written out: ``(5,)``."""
    x, y, z = u
    s15, s5 = math.sqrt(15.0), math.sqrt(5.0)
    return np.array([s15 * x * z, s15 * x * y, s5 * (y * y - 0.5 * (x * x + z * z)), s15 * y * z,
                     0.5 * s15 * (z * z - x * x)]) / math.sqrt(4.0 * math.pi)


def _axis_name(u: np.ndarray) -> str:
    for axis, name in _AXIS_NAMES.items():
        if abs(abs(u @ np.array(axis)) - 1.0) < 1e-12:
            return name
    return "(" + ", ".join(f"{v:.2f}" for v in u) + ")·r"


def axis_pair(axis_a, axis_b) -> OrderParameter:
    r"""The degree-2 input :math:`Y_2(\hat a) - Y_2(\hat b)`, a function on the sphere
    :math:`\propto (\hat a \cdot \hat r)^2 - (\hat b \cdot \hat r)^2`.

    For :math:`a = \hat x, b = \hat y` it is the :math:`x^2 - y^2` input that breaks a square's
    symmetry the way a rectangle does.
    """
    a, b = (np.asarray(v, dtype=np.float64).reshape(-1) for v in (axis_a, axis_b))
    if a.shape != (3,) or b.shape != (3,) or not np.isfinite(np.concatenate([a, b])).all():
        raise ValueError(f"Axes must be two finite 3-vectors, got {axis_a} and {axis_b}")
    if np.linalg.norm(a) == 0 or np.linalg.norm(b) == 0:
        raise ValueError(f"Axes must be non-zero vectors, got {axis_a} and {axis_b}")
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    if abs(abs(a @ b) - 1.0) < 1e-12:
        raise ValueError("The two axes are parallel: an L=2 axis pair needs two different axes")
    names = [_axis_name(u) for u in (a, b)]
    return OrderParameter({2: _degree_two(a) - _degree_two(b)}, "axis pair",
                          f"L=2, even, ∝ {names[0]}² − {names[1]}²")
