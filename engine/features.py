"""Per-point network inputs: the scalar 1 of every point, then any order parameter (plain numpy)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .order_parameter import OrderParameter

__all__ = ["Features", "irreps_dim"]

_TERM = re.compile(r"^\s*(?:(\d+)\s*x\s*)?(\d+)\s*([eo])\s*$")


def irreps_dim(irreps: str) -> int:
    """Dimension of an irreps string such as ``"0e+2e"`` or ``"1x0e+1x2e"``: :math:`\\sum m (2l+1)`."""
    total = 0
    for term in str(irreps).split("+"):
        match = _TERM.match(term)
        if match is None:
            raise ValueError(f"Irreps are terms like 0e, 2x1o joined by '+', got {irreps!r}")
        multiplicity, l, _ = match.groups()
        total += int(multiplicity or 1) * (2 * int(l) + 1)
    return total


@dataclass(frozen=True)
class Features:
    """Input features ``values`` of shape ``(N, dim)`` transforming as ``irreps``.

    The seed's input is one scalar 1 per point (:meth:`scalar`); an order parameter follows it
    (:meth:`with_order_parameter`).
    """

    irreps: str
    values: np.ndarray

    def __post_init__(self):
        values = np.asarray(self.values, dtype=np.float64)
        dim = irreps_dim(self.irreps)
        if values.ndim != 2 or values.shape[1] != dim:
            raise ValueError(f"Features {self.irreps} need shape (N, {dim}), got {values.shape}")
        if not np.isfinite(values).all():
            raise ValueError("Features contain NaN or infinite values")
        object.__setattr__(self, "values", values)

    @classmethod
    def scalar(cls, n: int) -> "Features":
        return cls("0e", np.ones((n, 1)))

    @classmethod
    def with_order_parameter(cls, n: int, order_parameter: OrderParameter | None) -> "Features":
        """The scalar 1 of ``n`` points followed by ``order_parameter`` (global: the same on
        every point); just the scalar when it is None."""
        if order_parameter is None:
            return cls.scalar(n)
        values = order_parameter.values
        if order_parameter.is_global:
            values = np.tile(values, (n, 1))
        elif len(values) != n:
            raise ValueError(f"The order parameter is given for {len(values)} points, but there are {n}")
        return cls(f"0e+{order_parameter.irreps}", np.concatenate([np.ones((n, 1)), values], axis=1))

    def __len__(self) -> int:
        return len(self.values)
