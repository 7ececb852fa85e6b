r"""Where the radial MLPs are evaluated for a graph's :math:`L` distinct edge lengths: at every one of
them (:class:`EveryLength`), or, when there are many, at far fewer nodes from which a checked
piecewise polynomial gives the rest (:class:`Interpolated`).

Either way the features at the lengths are a linear map of those at the nodes,
:math:`a(r_l) = \sum_n \Lambda_{ln}\, a(\rho_n)`, and so are the radial weights
:math:`R = s_L\, a W_L`: an executor evaluates the MLPs and their last layer at the nodes, reads a
chunk's rows of :math:`\Lambda R` (:meth:`EveryLength.chunk`) and sends the lengths' gradient back with
:math:`\Lambda^\top` (:meth:`EveryLength.to_nodes`).
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Callable

import torch

__all__ = ["EveryLength", "Interpolated", "radial_nodes", "DEGREE", "MAX_NODE_SHARE", "TOLERANCE"]

DEGREE = 7  # of the polynomial on each piece
MAX_NODE_SHARE = 0.5  # interpolate while the nodes and checks are at most this share of the lengths
# the largest interpolation error allowed at the checks, relative to the features' largest value: in
# float32 8x what the MLPs' own rounding reaches there (1e-6; at 2^-20 the check failed on rounding alone),
# in float64 a thousandth of the 1e-10 to which every executor agrees with plain e3nn
TOLERANCE = {torch.float32: 2.0**-17, torch.float64: 2.0**-40}


class EveryLength:
    """Every distinct length is a node: :math:`\\Lambda = I`, nothing approximated."""

    def __init__(self, basis: torch.Tensor, rows: list[torch.Tensor]):
        self.basis = basis  # the MLPs' input at the nodes, (K, L, number_of_basis)
        self.rows = rows  # each chunk's lengths

    def chunk(self, c: int, values: torch.Tensor) -> torch.Tensor:
        """Chunk ``c``'s rows of :math:`\\Lambda v` for ``(nodes, n)`` node values: ``(lengths in c, n)``."""
        return values.index_select(0, self.rows[c])

    def to_nodes(self, grad: torch.Tensor) -> torch.Tensor:
        """:math:`\\Lambda^\\top g` for the lengths' ``(L, n)`` gradient ``g``."""
        return grad

    def finer(self, features: torch.Tensor, evaluate: Callable[[torch.Tensor], torch.Tensor]) -> EveryLength | None:
        """Nodes to take instead: none, the features are exact."""
        return None


class Interpolated(EveryLength):
    r"""The features at the lengths from nodes on pieces of width :math:`h = \Delta / m` between the
    basis's kinks (the multiples of its centre spacing :math:`\Delta`, where it is only once
    differentiable): on piece :math:`i` the polynomial of degree :math:`p` (:data:`DEGREE`) through its
    Chebyshev–Lobatto nodes :math:`\rho_{iq} = (i + x_q)\, h`, :math:`x_q = (1 - \cos(\pi q / p)) / 2`,

    .. math::
        a(r) \approx \sum_{q=0}^{p} \ell_q(\xi)\, a(\rho_{iq}), \qquad i = \lfloor r / h \rfloor,\;
        \xi = r / h - i, \qquad \ell_q(\xi) = \prod_{j \ne q} \frac{\xi - x_j}{x_q - x_j},

    so :math:`\Lambda` has :math:`p + 1` non-zeros a row. Neighbouring pieces share their end node, and
    :math:`r = 0` is a node: there the value is exact (self-loops have factors of their own). The error
    is checked against the MLPs at the midpoints between neighbouring nodes (:meth:`finer`)."""

    def __init__(self, lengths: torch.Tensor, rows: list[torch.Tensor], spacing: float, per_spacing: int,
                 basis: Callable[[torch.Tensor], torch.Tensor]):
        self.lengths, self.spacing, self.per_spacing, self.stacked_basis = lengths, spacing, per_spacing, basis
        self.width = width = spacing / per_spacing
        self.pieces = _pieces(lengths, width)
        self.x = x = (1.0 - torch.cos(torch.pi * torch.arange(DEGREE + 1, dtype=torch.float64) / DEGREE)) / 2.0
        nodes = torch.cat([(torch.arange(self.pieces, dtype=torch.float64)[:, None] + x[:-1]).reshape(-1),
                           torch.tensor([float(self.pieces)], dtype=torch.float64)]) * width
        middles = (torch.arange(self.pieces, dtype=torch.float64)[:, None] + (x[1:] + x[:-1]) / 2.0).reshape(-1) * width
        self.num_nodes = len(nodes)
        dtype = lengths.dtype
        super().__init__(basis(nodes.to(dtype)), rows)
        self.check_basis = basis(middles.to(dtype))
        self.checks = self._matrix(*self._weights(middles), dtype)
        self.tolerance = TOLERANCE[dtype]

    def _weights(self, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each of ``(n,)`` lengths' nodes ``(n, p+1)`` and their Lagrange weights :math:`\\ell_q(\\xi)`, float64."""
        x = self.x
        piece = (r / self.width).floor().clamp(0, self.pieces - 1)
        xi = r / self.width - piece
        difference = xi[:, None] - x
        weights = torch.stack([torch.cat([difference[:, :q], difference[:, q + 1:]], 1).prod(1)
                               / torch.cat([x[q] - x[:q], x[q] - x[q + 1:]]).prod() for q in range(DEGREE + 1)], 1)
        return piece.long()[:, None] * DEGREE + torch.arange(DEGREE + 1), weights

    def _matrix(self, columns: torch.Tensor, weights: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """The rows of :math:`\\Lambda` for lengths with these nodes and weights, sparse (CSR)."""
        n = len(columns)
        with warnings.catch_warnings():  # torch calls its sparse CSR support beta
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse_csr_tensor(torch.arange(0, n * (DEGREE + 1) + 1, DEGREE + 1, dtype=torch.int32),
                                           columns.reshape(-1).int(), weights.reshape(-1).to(dtype),
                                           (n, self.num_nodes), check_invariants=False)

    @functools.cached_property
    def _columns_and_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._weights(self.lengths.double())

    @functools.cached_property
    def _chunks(self) -> list[torch.Tensor]:
        """Each chunk's rows of :math:`\\Lambda`, sparse (CSR): built once the nodes are kept."""
        columns, weights = self._columns_and_weights
        return [self._matrix(columns[r], weights[r], self.basis.dtype) for r in self.rows]

    @functools.cached_property
    def _transposed(self) -> torch.Tensor:
        """:math:`\\Lambda^\\top`, ``(nodes, L)``, sparse (CSR)."""
        return self._matrix(*self._columns_and_weights, self.basis.dtype).t().to_sparse_csr()

    def chunk(self, c: int, values: torch.Tensor) -> torch.Tensor:
        return self._chunks[c] @ values

    def to_nodes(self, grad: torch.Tensor) -> torch.Tensor:
        return self._transposed @ grad

    def finer(self, features: torch.Tensor, evaluate: Callable[[torch.Tensor], torch.Tensor]) -> EveryLength | None:
        """``None`` when the ``(K, nodes, d)`` features interpolate the MLPs (``evaluate``, from a stacked
        basis) at every check to the dtype's :data:`TOLERANCE` of each MLP's largest feature; otherwise
        these nodes with twice as many pieces, or every length once those would be as many."""
        exact = evaluate(self.check_basis)
        error = torch.stack([(self.checks @ f - e).abs().amax() for f, e in zip(features, exact)])
        if (error <= self.tolerance * features.abs().amax((1, 2))).all():
            return None
        return radial_nodes(self.lengths, self.rows, self.spacing, self.stacked_basis, 2 * self.per_spacing)


def _pieces(lengths: torch.Tensor, width: float) -> int:
    """Pieces of ``width`` from 0 to the longest length."""
    return max(1, math.ceil(float(lengths.max()) / width))


def radial_nodes(lengths: torch.Tensor, rows: list[torch.Tensor], spacing: float,
                 basis: Callable[[torch.Tensor], torch.Tensor], per_spacing: int = 1) -> EveryLength:
    """The nodes for ``(L,)`` distinct ``lengths`` read in chunks of ``rows``, with the radial basis
    ``basis`` (lengths to the MLPs' stacked input) of centre ``spacing``: :class:`Interpolated` with
    ``per_spacing`` pieces between kinks while its nodes and checks (about :math:`2p` a piece) are at most
    :data:`MAX_NODE_SHARE` of the lengths, else :class:`EveryLength`."""
    if 2 * DEGREE * _pieces(lengths, spacing / per_spacing) <= MAX_NODE_SHARE * len(lengths):
        return Interpolated(lengths, rows, spacing, per_spacing, basis)
    return EveryLength(basis(lengths), rows)
