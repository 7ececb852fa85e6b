"""Per-point network inputs: the scalars that say each point's type, then any order parameter (plain numpy)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .order_parameter import OrderParameter

__all__ = ["Features", "irreps_dim", "MAX_TYPES"]

MAX_TYPES = 16  # distinct vertex types the network takes, one scalar input each

_TERM = re.compile(r"^\s*(?:(\d+)\s*x\s*)?(\d+)\s*([eo])\s*$")


def _terms(irreps: str) -> list[tuple[int, int, str]]:
    """``(multiplicity, l, parity)`` of each term of an irreps string such as ``"2x0e+2e"``."""
    terms = []
    for term in str(irreps).split("+"):
        match = _TERM.match(term)
        if match is None:
            raise ValueError(f"Irreps are terms like 0e, 2x1o joined by '+', got {irreps!r}")
        multiplicity, l, parity = match.groups()
        terms.append((int(multiplicity or 1), int(l), parity))
    return terms


def irreps_dim(irreps: str) -> int:
    """Dimension of an irreps string such as ``"0e+2e"`` or ``"1x0e+1x2e"``: :math:`\\sum m (2l+1)`."""
    return sum(multiplicity * (2 * l + 1) for multiplicity, l, _ in _terms(irreps))


@dataclass(frozen=True)
class Features:
    """Input features ``values`` of shape ``(N, dim)`` transforming as ``irreps``.

    The first term says each point's type. With the vertex types :math:`t_1 < \\dots < t_K`
    (``types``, :math:`K \\ge 2`) it is ``Kx0e``, the one-hot scalars
    :math:`\\delta_{t(i), t_k}` of point :math:`i`. Without types, or with only one, it is the
    seed's scalar 1 of every point (:meth:`scalar`), so that an untyped network is the seed's.
    An order parameter follows it (:meth:`with_order_parameter`).
    """

    irreps: str
    values: np.ndarray
    types: tuple[int, ...] = ()

    def __post_init__(self):
        values = np.asarray(self.values, dtype=np.float64)
        dim = irreps_dim(self.irreps)
        if values.ndim != 2 or values.shape[1] != dim:
            raise ValueError(f"Features {self.irreps} need shape (N, {dim}), got {values.shape}")
        if not np.isfinite(values).all():
            raise ValueError("Features contain NaN or infinite values")
        types = tuple(self.types)
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in types) or list(types) != sorted(set(types)):
            raise ValueError(f"Feature types are distinct integers in increasing order, got {str(types)[:80]}")
        if len(types) > MAX_TYPES:
            raise ValueError(f"{len(types)} vertex types are more than the network takes (at most {MAX_TYPES})")
        k = len(types)
        if k >= 2:
            one_hot = values[:, :k]
            if _terms(self.irreps)[0] != (k, 0, "e") or not (np.isin(one_hot, (0.0, 1.0)).all()
                                                             and (one_hot.sum(axis=1) == 1).all()):
                raise ValueError(f"Features of {k} vertex types begin with their {k} one-hot scalars "
                                 f"({k}x0e), got {self.irreps}")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "types", types)

    @classmethod
    def scalar(cls, n: int) -> "Features":
        return cls("0e", np.ones((n, 1)))

    @classmethod
    def of_types(cls, n: int, types=None, known=None) -> "Features":
        """The type scalars of ``n`` points with ``(n,)`` integer ``types`` (None: untyped).

        ``known`` is the type list of a trained model, which the types must belong to; by
        default it is the distinct types given. ``ValueError`` naming a type outside it, or
        when the model knows several types and none are given.
        """
        known = None if known is None else tuple(int(t) for t in known)
        if types is None:
            if known is not None and len(known) > 1:
                raise ValueError(f"The model was trained on the vertex types {_listed(known)}: give each point's type")
            return cls("0e", np.ones((n, 1)), known or ())
        types = np.asarray(types)
        if types.shape != (n,):
            raise ValueError(f"Types are given for {types.shape} points, but there are {n}")
        present = np.unique(types)
        if known == ():
            raise ValueError("The model was trained without vertex types: predict without them, or train again")
        known = tuple(int(t) for t in present) if known is None else known
        unseen = present[~np.isin(present, known)]
        if len(unseen):
            plural = "" if len(unseen) == 1 else "s"
            raise ValueError(f"The model never saw the vertex type{plural} {_listed(unseen)} "
                             f"(it was trained on {_listed(known)})")
        if len(known) == 1:
            return cls("0e", np.ones((n, 1)), known)
        one_hot = (types[:, None] == np.asarray(known)[None, :]).astype(np.float64)
        return cls(f"{len(known)}x0e", one_hot, known)

    @classmethod
    def with_order_parameter(cls, n: int, order_parameter: OrderParameter | None, types=None,
                             known=None) -> "Features":
        """The type scalars of ``n`` points (:meth:`of_types`) followed by ``order_parameter``
        (global: the same on every point); just the type scalars when it is None."""
        scalars = cls.of_types(n, types, known)
        if order_parameter is None:
            return scalars
        values = order_parameter.values
        if order_parameter.is_global:
            values = np.tile(values, (n, 1))
        elif len(values) != n:
            raise ValueError(f"The order parameter is given for {len(values)} points, but there are {n}")
        return scalars.followed_by(order_parameter.irreps, values)

    def followed_by(self, irreps: str, values: np.ndarray) -> "Features":
        """These features with ``(N, D)`` ``values`` of ``irreps`` appended, the same types."""
        return Features(f"{self.irreps}+{irreps}", np.concatenate([self.values, values], axis=1), self.types)

    @property
    def order_parameter_irreps(self) -> str:
        """The irreps after the first term, the type scalars: ``"2e"``, or ``""`` for none."""
        return self.irreps.partition("+")[2].strip()

    @property
    def order_parameter_values(self) -> np.ndarray:
        """``(N, D)`` values of :attr:`order_parameter_irreps`."""
        return self.values[:, irreps_dim(self.irreps.partition("+")[0]):]

    def __len__(self) -> int:
        return len(self.values)


def _listed(types) -> str:
    """``6``, ``6 and 8``, ``1, 6 and 8``."""
    names = [str(int(t)) for t in types]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
