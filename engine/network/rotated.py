r"""The network on one fixed large point set, each edge turned into its own frame (eSCN).

Passaro and Zitnick (2023): rotate each edge so that it points along :math:`\hat y`, e3nn's
polar axis. There its harmonics have only the :math:`m = 0` component,
:math:`Y^{l_f}(\hat y) = \sqrt{2l_f+1}\, e_{m=0}`, and since
:math:`C(D a, D b) = D\, C(a, b)` for every Wigner matrix :math:`D`,

.. math::
    C^p\big(x_{s(e)} \otimes Y(\hat r_e)\big) = D_e\, C^p\big(D_e^\top x_{s(e)} \otimes h_e\big),
    \qquad h_e = D_e^\top Y(\hat r_e),

with :math:`D_e = D(\alpha_e, \beta_e, 0)` from the edge's angles. The frame harmonics are
:math:`h_{e,l_f} = s_e \sqrt{2l_f+1}`, :math:`s_e` the edge's scale (``Graph.scale``: its
envelope over :math:`n_i`), and :math:`h_{e,l_f} = s_e\, \delta_{l_f 0}` for a zero vector
(self-loops). With one harmonic component per degree, every path's coefficients collapse to
:math:`C^p_{j,\,l_f,\,o}`, non-zero only where :math:`|m_j| = |m_o|`, and the whole convolution
becomes, per edge, one sparse matrix from input to output components that depends only on the
edge's length:

.. math::
    T_{(j o)}(r) = \sum_p \alpha_p\, R_p(r)\, c_{l_f(p)}(r)\, C^p_{j, l_f(p), o}, \qquad
    x'_i = \sum_{e \to i} s_e\, D_e\, T(|\vec r_e|)\, D_e^\top x_{s(e)},

with :math:`c_l(r) = \sqrt{2l+1}` (:math:`\delta_{l0}` at :math:`r = 0`): about 176 non-zeros for
lmax 5, against the 1,296-entry outer product and 3,100-entry table of :mod:`.planned`, and
computed once per distinct length, not per edge: :math:`T = M\, \mathrm{diag}(c)\, R^\top` with
:math:`M` sparse (377 non-zeros for 99 paths). The same function: only the order of the sums
changes. The radial MLPs run at nodes (:mod:`.radial_nodes`): every distinct length, or, where
there are many, far fewer from which a polynomial on each piece gives the lengths to the working
precision, checked at every pass.

:math:`D_e = e^{\alpha X_y} P e^{\beta X_y} P^\top` with :math:`P` the Wigner matrix of a
quarter turn about :math:`z`, so a rotation is two turns about the polar axis (:func:`turn`,
two numbers per component) and two products by one constant sparse matrix: per edge only
:math:`\cos m\alpha, \sin m\alpha, \cos m\beta, \sin m\beta` are kept. Edges are taken in
chunks, ordered by length or, on many points, by place (:meth:`Rotated._edge_order`): a chunk's
tables (and their gradient) are computed on its own distinct lengths where they are used; the
backward pass is derived by hand from the rotated inputs kept by the forward pass.
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np
import torch
from e3nn import o3

from ..graph import Graph
from .clebsch_gordan import clebsch_gordan
from .radial_nodes import radial_nodes
from .structure import Convolution, expanded

__all__ = ["EDGE_CHUNK", "Rotated", "Turns", "Layout", "frames", "z_order"]

# from this many points the edges run by place, if that tabulates at most this factor more lengths
# (a training step on 10,000 points 5-8 % faster, 2,000 even; prediction on 1,000,000 points 95 -> 71 s,
# where float32 rounding makes 1.29x as many lengths to tabulate by place; a mirror-symmetric cloud by
# place: 1.8x, 13-17 % slower)
LOCAL_FROM_POINTS, PLACE_TABLE_FACTOR = 5_000, 1.5
EDGE_CHUNK = 2048  # edges per chunk: a chunk's tables stay in cache (a 500-point step 0.060 s at 8,192, 0.054 s here)


class Turns:
    r"""Per edge :math:`\cos m\theta` and :math:`\sin m\theta` for :math:`m = -L..L`, ``(2L+1, E)`` each,
    from :math:`\cos\theta, \sin\theta` by the angle sums
    :math:`\cos (m+1)\theta = \cos m\theta \cos\theta - \sin m\theta \sin\theta`,
    :math:`\sin (m+1)\theta = \sin m\theta \cos\theta + \cos m\theta \sin\theta`, in ``dtype``
    (in float32 a few units of its last place off by :math:`m = 5`)."""

    def __init__(self, cos: torch.Tensor, sin: torch.Tensor, lmax: int, dtype: torch.dtype):
        self.cos = torch.empty(2 * lmax + 1, len(cos), dtype=dtype)
        self.sin = torch.empty_like(self.cos)
        c, s = self.cos[lmax].fill_(1.0), self.sin[lmax].fill_(0.0)
        cos, sin = cos.to(dtype), sin.to(dtype)
        for m in range(1, lmax + 1):
            c_m, s_m = self.cos[lmax + m], self.sin[lmax + m]
            torch.mul(c, cos, out=c_m).addcmul_(s, sin, value=-1.0)
            torch.mul(s, cos, out=s_m).addcmul_(c, sin)
            self.cos[lmax - m].copy_(c_m)
            torch.neg(s_m, out=self.sin[lmax - m])
            c, s = c_m, s_m


def frames(vectors: torch.Tensor, lmax: int, dtype: torch.dtype) -> tuple[Turns, Turns]:
    r"""The turns by each edge's angles :math:`\alpha_e, \beta_e`, e3nn's ``xyz_to_angles``
    (:math:`\alpha = \mathrm{atan2}(x, z)`, :math:`\beta = \arccos y` of the unit vector) read
    off the vector in float64 without evaluating them: :math:`\cos\beta = y/r`,
    :math:`\sin\beta = \rho/r`, :math:`(\cos\alpha, \sin\alpha) = (z, x)/\rho` with
    :math:`\rho = \sqrt{x^2 + z^2}`; :math:`\alpha = 0` on the polar axis and :math:`\beta = \pi/2`
    for a zero vector, as e3nn. :math:`Y(\hat r_e) = D_e\, Y(\hat y)` with :math:`D_e` as
    :class:`Layout` applies it."""
    x, y, z = vectors.double().unbind(-1)
    rho = torch.hypot(x, z)
    r = torch.hypot(rho, y)
    r_or_1, rho_or_1 = torch.where(r == 0, 1.0, r), torch.where(rho == 0, 1.0, rho)
    cos_beta, sin_beta = y / r_or_1, torch.where(r == 0, 1.0, rho / r_or_1)
    cos_alpha, sin_alpha = torch.where(rho == 0, 1.0, z / rho_or_1), x / rho_or_1
    return Turns(cos_alpha, sin_alpha, lmax, dtype), Turns(cos_beta, sin_beta, lmax, dtype)


def z_order(positions: np.ndarray, bits: int = 10) -> np.ndarray:
    """The points in z-order (Morton): each coordinate on ``bits`` bits across the bounding box, the
    key their bits interleaved, so that points near in space get near places."""
    extent = np.ptp(positions, axis=0)
    cells = ((positions - positions.min(axis=0)) / np.where(extent > 0, extent, 1.0) * (2**bits - 1)).astype(np.int64)
    key = np.zeros(len(positions), dtype=np.int64)
    for bit in range(bits):
        for axis in range(3):
            key |= ((cells[:, axis] >> bit) & 1) << (3 * bit + axis)
    return np.argsort(key, kind="stable")


@functools.lru_cache(maxsize=None)
def _quarter_turn(l: int) -> torch.Tensor:
    r""":math:`P`, the Wigner matrix of degree ``l`` of a quarter turn :math:`R` about :math:`z`, float64,
    solved from :math:`Y(R x) = P\, Y(x)` on random points. It has about two non-zeros a row, and is exact to
    float64 with the others zero (e3nn's ``D_from_matrix`` fills them with 1e-7: a slight turn about the
    polar axis, which cancels in :math:`D_e` but not in a sparse product)."""
    quarter = torch.tensor([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    points = torch.randn(4 * (2 * l + 1), 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y, turned = (o3.spherical_harmonics(l, p, normalize=True) for p in (points, points @ quarter.T))
    p = torch.linalg.lstsq(y, turned).solution.T
    return torch.where(p.abs() > 1e-9, p, 0.0)


class Layout:
    r"""How :math:`D_e` acts on features of ``irreps``, feature-major ``(D, E)``: each component's
    :math:`m` and the row of its :math:`-m`, and the block-diagonal quarter turn :math:`P`."""

    def __init__(self, irreps: list[o3.Irrep], lmax: int, dtype: torch.dtype):
        m = np.concatenate([np.arange(-ir.l, ir.l + 1) for ir in irreps])
        at = np.concatenate([np.full(ir.dim, start + ir.l) for ir, start in
                             zip(irreps, np.cumsum([0] + [ir.dim for ir in irreps]))])
        self.row = torch.as_tensor(m + lmax)  # row of cos m theta, sin m theta in a Turns
        self.flip = torch.as_tensor(at - m)  # the component of -m
        quarter = torch.block_diag(*[_quarter_turn(ir.l) for ir in irreps]).to(dtype)
        # sparse: a product is 3x (one copy of each degree) to 10x (four) faster than a dense one
        self.quarter, self.quarter_t = quarter.to_sparse(), quarter.T.to_sparse()

    def turn(self, x: torch.Tensor, turns: Turns, e: slice, inverse: bool) -> torch.Tensor:
        r""":math:`e^{\theta X_y} x`, row :math:`m`: :math:`\cos m\theta\, x_m - \sin m\theta\, x_{-m}`
        (``inverse``: :math:`e^{-\theta X_y} x`, the sine's sign flipped)."""
        turned = turns.cos[:, e].index_select(0, self.row).mul_(x)
        return turned.addcmul_(turns.sin[:, e].index_select(0, self.row), x.index_select(0, self.flip),
                               value=1.0 if inverse else -1.0)

    def to_frame(self, x: torch.Tensor, alpha: Turns, beta: Turns, e: slice) -> torch.Tensor:
        r""":math:`D_e^\top x = P e^{-\beta X_y} P^\top e^{-\alpha X_y} x` for the edges ``e``."""
        x = self.quarter_t @ self.turn(x, alpha, e, inverse=True)
        return self.quarter @ self.turn(x, beta, e, inverse=True)

    def from_frame(self, x: torch.Tensor, alpha: Turns, beta: Turns, e: slice) -> torch.Tensor:
        r""":math:`D_e x = e^{\alpha X_y} P e^{\beta X_y} P^\top x` for the edges ``e``."""
        x = self.quarter @ self.turn(self.quarter_t @ x, beta, e, inverse=False)
        return self.turn(x, alpha, e, inverse=False)


class _FrameTable:
    r"""One convolution in the edge frame: the non-zeros :math:`(j, o)` of :math:`T` and the
    ``(nnz, paths)`` matrix :math:`M\, \mathrm{diag}(c)` with :math:`T = M (R_p c_{l_f(p)})_p`, sparse (about
    two non-zeros a row) and its transpose, and dense for a zero edge vector's factors."""

    def __init__(self, convolution: Convolution, lmax: int, dtype: torch.dtype,
                 input_scale: tuple[float, ...] | None):
        ins, outs = expanded(convolution.irreps_in), expanded(convolution.irreps_out)
        in_at = np.cumsum([0] + [ir.dim for ir in ins])
        out_at = np.cumsum([0] + [ir.dim for ir in outs])
        entries: dict[tuple[int, int], int] = {}
        rows, columns, values = [], [], []
        for k, p in enumerate(convolution.paths):
            block = p.weight * clebsch_gordan(p.l_in, p.l_edge, p.l_out)[:, p.l_edge, :]
            for j, o in zip(*np.nonzero(np.abs(block) > 1e-14)):
                key = (int(in_at[p.input] + j), int(out_at[p.output] + o))
                rows.append(entries.setdefault(key, len(entries)))
                columns.append(k)
                scale = 1.0 if input_scale is None else input_scale[key[0]]
                values.append(scale * block[j, o])
        pairs = torch.tensor(list(entries), dtype=torch.long)
        self.input_of, self.output_of = pairs[:, 0].contiguous(), pairs[:, 1].contiguous()
        mixing = torch.zeros(len(entries), convolution.num_paths, dtype=torch.float64)
        mixing.index_put_((torch.tensor(rows), torch.tensor(columns)), torch.tensor(values), accumulate=True)
        l_edge = torch.tensor([p.l_edge for p in convolution.paths], dtype=torch.float64)
        regular = (mixing * (2 * l_edge + 1).sqrt()).to(dtype)
        self.mixing, self.mixing_t = regular.to_sparse(), regular.T.to_sparse()
        self.mixing_at_zero = (mixing * (l_edge == 0)).to(dtype)
        self.num_paths = convolution.num_paths
        self.layout_in, self.layout_out = Layout(ins, lmax, dtype), Layout(outs, lmax, dtype)
        self.d_in, self.d_out = int(in_at[-1]), int(out_at[-1])


class Rotated:
    """A :class:`~engine.network.Network`'s structure on one large :class:`~engine.graph.Graph`,
    with the same calls as :class:`~engine.network.planned.Plan`."""

    def __init__(self, network, graph: Graph):
        dtype = graph.scale.dtype
        self.radial = network.radial
        self.graph, self.num_points, self.num_edges = graph, graph.num_points, graph.num_edges
        # points renumbered along a z-order curve, so that near points are near in memory
        self.order = torch.as_tensor(z_order(graph.positions))  # graph point of each new number
        self.rank = torch.empty_like(self.order).index_copy_(0, self.order, torch.arange(self.num_points))
        source, destination = self.rank[graph.source], self.rank[graph.destination]
        order, (distinct, column) = self._edge_order(source, destination)
        self.source, self.destination = source[order], destination[order]
        self.scale = graph.scale[order]  # s_e
        self.alpha, self.beta = frames(graph.vectors[order], network.config.lmax, dtype)
        self.tables = [_FrameTable(c, network.config.lmax, dtype, network.gates[k - 1].output_scale if k > 0 else None)
                       for k, c in enumerate(network.convolutions)]
        self.gates = list(network.gates)
        self.chunks = [slice(a, min(a + EDGE_CHUNK, self.num_edges)) for a in range(0, self.num_edges, EDGE_CHUNK)]
        # each chunk's distinct lengths (graph rows), its edges' columns among them,
        # and the column of length 0 (self-loops), if any
        rows = len(graph.distinct_lengths)
        starts = torch.bincount(distinct // rows, minlength=len(self.chunks)).cumsum(0)[:-1].tolist()
        # the distinct lengths renumbered as the chunks first take them: a chunk reads its rows of the
        # MLPs' features nearly in sequence
        row_of = distinct % rows
        first = torch.full((rows,), len(row_of)).scatter_reduce_(0, row_of, torch.arange(len(row_of)), "amin")
        taken = torch.argsort(first)  # graph row of each new number
        renumbered = torch.empty_like(taken).index_copy_(0, taken, torch.arange(rows))
        self.lengths = list(renumbered[row_of].tensor_split(starts))
        self.num_lengths = rows
        self.nodes = radial_nodes(graph.distinct_lengths[taken], self.lengths, graph.basis_spacing,
                                  lambda lengths: self.radial.stacked_basis(graph.basis_of(lengths)))
        starts = [0] + starts
        self.columns = [column[e] - start for e, start in zip(self.chunks, starts)]
        self.zero_at: list[int | None] = [None] * len(self.chunks)
        for i in (row_of == graph.length_index[graph.lengths == 0][:1]).nonzero()[:, 0].tolist():  # row of length 0
            c = int(distinct[i]) // rows
            self.zero_at[c] = i - starts[c]

    def _edge_order(self, source: torch.Tensor, destination: torch.Tensor
                    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """The order the edges run in, and :meth:`_distinct` of it. From :data:`LOCAL_FROM_POINTS`
        points, by place: by their pair's lower point, the two directions together, so that a chunk
        covers a few neighbourhoods and its gathers and scatters stay in cache; unless that gives the
        chunks many more lengths to tabulate than by length (a mirror-symmetric mesh, whose equal
        lengths lie apart). By length otherwise: each length in one chunk, or two."""
        self.by_place = False
        if self.num_points >= LOCAL_FROM_POINTS:
            pair = torch.minimum(source, destination) * self.num_points + torch.maximum(source, destination)
            by_place = torch.argsort(pair, stable=True)
            distinct = self._distinct(by_place)
            # by length each length is tabulated once, or twice where it spans two chunks
            by_length_tables = len(self.graph.distinct_lengths) + -(-self.num_edges // EDGE_CHUNK)
            self.by_place = len(distinct[0]) <= PLACE_TABLE_FACTOR * by_length_tables
            if self.by_place:
                return by_place, distinct
        by_length = torch.argsort(self.graph.length_index, stable=True)
        return by_length, self._distinct(by_length)

    def _distinct(self, order: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """With the edges in ``order``: each chunk's distinct lengths as ``chunk * L + row`` in rising
        order, and each edge's place among them."""
        chunk_of = torch.arange(self.num_edges) // EDGE_CHUNK
        rows = len(self.graph.distinct_lengths)
        distinct, column = torch.unique(chunk_of * rows + self.graph.length_index[order], return_inverse=True)
        return distinct, column

    def _last_layer(self, k: int, last: torch.Tensor) -> torch.Tensor:
        """Convolution ``k``'s last radial layer :math:`s_L W_L`, ``(d_L, paths)``, from the padded
        ``(K, d_L, max paths)`` last weights."""
        return last[k, :, :self.tables[k].num_paths] * self.radial.last_scale

    def _features(self, weights: list[torch.Tensor], tape: list | None) -> torch.Tensor:
        """The MLPs' last hidden features at the nodes, ``(K, nodes, d_L)``, the nodes refined until they
        interpolate the MLPs (:mod:`.radial_nodes`); with a ``tape``, what the MLPs' backward needs is pushed on it."""
        while True:
            kept: list = []
            features = self.radial.features(weights, self.nodes.basis, kept if tape is not None else None)
            finer = self.nodes.finer(features, lambda basis: self.radial.features(weights, basis))
            if finer is None:
                break
            self.nodes = finer
        if tape is not None:
            tape.extend(kept)
        return features

    def _chunk_table(self, k: int, c: int, radial: torch.Tensor) -> torch.Tensor:
        r""":math:`T` of convolution ``k`` on chunk ``c``'s distinct lengths, ``(nnz, lengths)``, from the
        ``(nodes, paths)`` radial weights :math:`R = s_L a_L W_L` at the nodes: :math:`T = M\, \mathrm{diag}(c)\, (\Lambda R)^\top`
        on the chunk's rows of the nodes' map :math:`\Lambda` (the length 0 through its own factors)."""
        table = self.tables[k]
        radial = self.nodes.chunk(c, radial).T.contiguous()
        tables = table.mixing @ radial
        zero = self.zero_at[c]
        if zero is not None:
            tables[:, zero] = table.mixing_at_zero @ radial[:, zero]
        return tables

    def _convolve(self, k: int, x: torch.Tensor, chunk_table: Callable[[int], torch.Tensor],
                  tape: list | None) -> torch.Tensor:
        r"""``(D_in, N)`` features to ``(D_out, N)``: :math:`x'_i = \sum_{e \to i} s_e D_e T_e D_e^\top x_{s(e)}`,
        ``chunk_table(c)`` giving chunk ``c``'s :meth:`_chunk_table`; with a ``tape`` the rotated inputs
        :math:`D_e^\top x_{s(e)}` and the chunks' tables are kept, a pair of lists by chunk."""
        table = self.tables[k]
        summed = torch.zeros(table.d_out, self.num_points, dtype=x.dtype)
        kept, chunk_tables = [], []
        for c, e in enumerate(self.chunks):
            rotated = table.layout_in.to_frame(x.index_select(1, self.source[e]), self.alpha, self.beta, e)
            tables = chunk_table(c)
            if tape is not None:
                kept.append(rotated)
                chunk_tables.append(tables)
            products = rotated.index_select(0, table.input_of) * tables.index_select(1, self.columns[c])
            messages = torch.zeros(table.d_out, e.stop - e.start, dtype=x.dtype).index_add_(0, table.output_of, products)
            messages = table.layout_out.from_frame(messages * self.scale[e], self.alpha, self.beta, e)
            summed.index_add_(1, self.destination[e], messages)
        if tape is not None:
            tape.append((kept, chunk_tables))
        return summed

    def _convolve_backward(self, k: int, grad: torch.Tensor, weight: torch.Tensor, hidden: torch.Tensor,
                           tape: list, grad_features: torch.Tensor, input_grad: bool
                           ) -> tuple[torch.Tensor | None, torch.Tensor]:
        r"""From the outputs' ``(D_out, N)`` gradient :math:`g`: the inputs' (when ``input_grad``) and the last
        radial layer's ``(d_L, paths)``, and the last hidden features' at the nodes written into
        ``grad_features``, ``(nodes, d_L)``. With :math:`w_e = s_e D_e^\top g_{d(e)}` and :math:`u_e` the kept
        rotated inputs, a chunk's :math:`\partial T_{(jo)} = \sum_e u_{e,j} w_{e,o}`,
        :math:`\partial x_{s(e)} \mathrel{+}= D_e \sum_o T_{e,(jo)} w_{e,o}` and its lengths'
        :math:`\partial R^\top = \mathrm{diag}(c) M^\top \partial T` (added where chunks share a length); then at the
        nodes :math:`\partial R_n = \Lambda^\top \partial R`, :math:`\partial a_L = \partial R_n (s_L W_L)^\top` and
        :math:`\partial W_L = s_L\, a_L^\top \partial R_n`."""
        table = self.tables[k]
        kept, chunk_tables = tape.pop()
        grad_radial_lengths = torch.zeros(self.num_lengths, table.num_paths, dtype=grad.dtype)
        grad_x = torch.zeros(table.d_in, self.num_points, dtype=grad.dtype) if input_grad else None
        for c, e in enumerate(self.chunks):
            lengths, columns, zero = self.lengths[c], self.columns[c], self.zero_at[c]
            w = table.layout_out.to_frame(grad.index_select(1, self.destination[e]), self.alpha, self.beta, e)
            w = (w * self.scale[e]).index_select(0, table.output_of)
            grad_table = torch.zeros(len(table.input_of), len(lengths), dtype=grad.dtype)
            grad_table.index_add_(1, columns, kept[c].index_select(0, table.input_of) * w)
            grad_radial = table.mixing_t @ grad_table
            if zero is not None:
                grad_radial[:, zero] = table.mixing_at_zero.T @ grad_table[:, zero]
            grad_radial_lengths.index_add_(0, lengths, grad_radial.T.contiguous())
            if grad_x is not None:
                products = chunk_tables[c].index_select(1, columns) * w
                rotated = torch.zeros(table.d_in, e.stop - e.start, dtype=grad.dtype).index_add_(0, table.input_of, products)
                grad_x.index_add_(1, self.source[e], table.layout_in.from_frame(rotated, self.alpha, self.beta, e))
        grad_radial = self.nodes.to_nodes(grad_radial_lengths)
        torch.mm(grad_radial, weight.T, out=grad_features)
        return grad_x, (hidden.T @ grad_radial) * self.radial.last_scale

    def forward(self, weights: list[torch.Tensor], features: torch.Tensor, tape: list | None = None) -> torch.Tensor:
        """``(N, D_in)`` features to ``(N, D_out)`` outputs (a transposed view); with a ``tape``, what
        the backward pass needs is pushed on it."""
        hidden = self._features(weights, tape)
        x = features.index_select(0, self.order).T.contiguous()  # (D, N) in this executor's numbering
        for k in range(len(self.tables)):
            weight = self._last_layer(k, weights[-1])
            radial = hidden[k] @ weight
            x = self._convolve(k, x, lambda c: self._chunk_table(k, c, radial), tape)
            if tape is not None:
                tape.append((weight, hidden[k]))
            if k < len(self.gates):
                x = self.gates[k].unscaled(x, tape)
        return x.T.index_select(0, self.rank)

    def loss_and_gradient(self, weights: list[torch.Tensor], features: torch.Tensor, goal: torch.Tensor,
                          grad_weights: list[torch.Tensor]) -> torch.Tensor:
        """Mean squared error between the vertices' outputs and ``goal`` ``(N, D_out)``; its gradient with
        respect to the weights is written into the views ``grad_weights``."""
        tape: list = []
        loss, grad = self.graph.squared_error(self.forward(weights, features, tape), goal)
        grad = grad.index_select(0, self.order).T.contiguous()
        grad_last = grad_weights[-1].zero_()
        grad_hidden = torch.empty(len(self.tables), self.nodes.basis.shape[1], grad_last.shape[1], dtype=grad.dtype)
        for k in reversed(range(len(self.tables))):
            if k < len(self.gates):
                grad = self.gates[k].backward(grad, tape)
            weight, hidden = tape.pop()
            grad_x, grad_last[k, :, :self.tables[k].num_paths] = self._convolve_backward(
                k, grad, weight, hidden, tape, grad_hidden[k], input_grad=k > 0)
            if grad_x is not None:  # the previous layer's outputs
                grad = grad_x
        self.radial.features_backward(weights, tape, grad_hidden, grad_weights)
        return loss
