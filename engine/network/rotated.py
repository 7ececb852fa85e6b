r"""The network on one fixed large point set, each edge turned into its own frame (eSCN).

Passaro and Zitnick (2023): rotate each edge so that it points along :math:`\hat y`, e3nn's
polar axis. There its harmonics have only the :math:`m = 0` component,
:math:`Y^{l_f}(\hat y) = \sqrt{2l_f+1}\, e_{m=0}`, and since
:math:`C(D a, D b) = D\, C(a, b)` for every Wigner matrix :math:`D`,

.. math::
    C^p\big(x_{s(e)} \otimes Y(\hat r_e)\big) = D_e\, C^p\big(D_e^\top x_{s(e)} \otimes h_e\big),
    \qquad h_e = D_e^\top Y(\hat r_e),

with :math:`D_e = D(\alpha_e, \beta_e, 0)` from the edge's angles and :math:`h_e` the frame
harmonics (:math:`m = 0` only; the self-loops' :math:`Y = e_0` are left as they are). With one
harmonic component per degree, every path's coefficients collapse to
:math:`C^p_{j,\,l_f,\,o}`, non-zero only where :math:`|m_j| = |m_o|`. Per edge the whole
convolution becomes one sparse matrix :math:`T_e` from input to output components,

.. math::
    T_{e,(j o)} = \sum_p \alpha_p\, R_p(|\vec r_e|)\, h_{e, l_f(p)}\, C^p_{j, l_f(p), o}, \qquad
    x'_i = \sum_{e \to i} D_e\, T_e\, D_e^\top x_{s(e)},

about 290 non-zeros for lmax 5 against the 1,296-entry outer product and 3,100-entry table of
:mod:`.planned`. The same function, exactly: only the order of the sums changes. Edges are
taken in chunks whose intermediates are recomputed in the backward pass (under autograd, whose
bookkeeping is negligible against a chunk's arithmetic), so memory is the plan's per-edge
tables (the :math:`D_e`, about 290 numbers per edge) and the features. The radial MLPs keep
their hand-derived gradient.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from e3nn import o3

from ..graph import Graph
from .clebsch_gordan import clebsch_gordan
from .structure import Convolution, expanded

__all__ = ["EDGE_CHUNK", "Rotated", "frames"]

EDGE_CHUNK = 8192  # edges per chunk


def _turned(l: int, angles: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    r""":math:`e^{\theta X_y} M` in degree ``l`` for ``(E,)`` angles, ``(E, 2l+1, 2l+1)``:
    :math:`e^{\theta X_y}` has :math:`\cos m\theta` at :math:`(m, m)` and :math:`-\sin m\theta`
    at :math:`(m, -m)` in e3nn's real basis, so row :math:`m` of the product is
    :math:`\cos m\theta\, M_m - \sin m\theta\, M_{-m}`."""
    m = torch.arange(-l, l + 1, dtype=angles.dtype)
    turns = angles[:, None, None] * m[:, None]
    return torch.cos(turns) * matrix - torch.sin(turns) * matrix.flip(-2)


def frames(vectors: torch.Tensor, harmonics: torch.Tensor, lmax: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    r"""Per edge the Wigner matrices :math:`D^l_e`, ``(2l+1, 2l+1, E)`` for ``l = 1..lmax``, with
    :math:`Y(\hat r_e) = D_e Y(\hat y)`, and the frame harmonics :math:`h_{e,l} = (D_e^\top Y_e)_{l, m=0}`,
    ``(lmax+1, E)``, computed in float64.

    :math:`D_e = e^{\alpha X_y} e^{\beta X_x}` (e3nn's ``wigner_D(l, alpha, beta, 0)``) with
    :math:`e^{\beta X_x} = P e^{\beta X_y} P^\top`, :math:`P` the Wigner matrix of a quarter turn
    about :math:`z`: one product by a constant matrix per degree instead of e3nn's matrix exponentials.
    """
    vectors, harmonics = vectors.double(), harmonics.double()
    alpha, beta = o3.xyz_to_angles(vectors)
    quarter_turn = o3.matrix_z(torch.tensor(-math.pi / 2, dtype=torch.float64))
    rotations, frame_harmonics = [], [harmonics[:, 0]]
    for l in range(1, lmax + 1):
        p = o3.Irrep(l, 1).D_from_matrix(quarter_turn)
        d = _turned(l, alpha, p @ _turned(l, beta, p.T))  # (E, 2l+1, 2l+1)
        frame_harmonics.append((d[:, :, l] * harmonics[:, l * l:(l + 1) ** 2]).sum(1))
        rotations.append(d.permute(1, 2, 0).contiguous())
    return rotations, torch.stack(frame_harmonics)


class _FrameTable:
    r"""One convolution in the edge frame: the non-zeros :math:`(j, o)` of :math:`T_e`, and the
    sparse ``(nnz, paths)`` matrix :math:`M` with :math:`T_e = M (R_p h_{e, l_f(p)})_p`."""

    def __init__(self, convolution: Convolution, dtype: torch.dtype, input_scale: tuple[float, ...] | None):
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
        self.mixing = torch.sparse_coo_tensor(torch.tensor([rows, columns]), torch.tensor(values),
                                              (len(entries), convolution.num_paths), check_invariants=True).coalesce().to(dtype)
        self.edge_of_path = torch.tensor([p.edge for p in convolution.paths])
        self.in_blocks = [(int(in_at[i]), ir.l) for i, ir in enumerate(ins)]
        self.out_blocks = [(int(out_at[o]), ir.l) for o, ir in enumerate(outs)]
        self.d_out = int(out_at[-1])


class Rotated:
    """A :class:`~engine.network.Network`'s structure on one large :class:`~engine.graph.Graph`,
    with the same calls as :class:`~engine.network.planned.Plan`."""

    def __init__(self, network, graph: Graph):
        dtype = graph.harmonics.dtype
        self.radial = network.radial
        self.basis = self.radial.stacked_basis(graph.embedding)
        self.num_points, self.num_edges = graph.num_points, graph.num_edges
        self.source, self.destination, self.length_index = graph.source, graph.destination, graph.length_index
        rotations, frame_harmonics = frames(graph.vectors, graph.harmonics, network.config.lmax)
        self.rotations = [d.to(dtype) for d in rotations]
        self.frame_harmonics = frame_harmonics.to(dtype)
        self.tables = [_FrameTable(c, dtype, network.gates[k - 1].output_scale if k > 0 else None)
                       for k, c in enumerate(network.convolutions)]
        self.gates = list(network.gates)

    def _rotate(self, x: torch.Tensor, blocks, e: slice, transpose: bool) -> torch.Tensor:
        r""":math:`D_e^\top x_e` (``transpose``) or :math:`D_e x_e` on each block ``(at, l)`` of ``(D, E)``
        features; scalars pass unchanged."""
        pieces = []
        for at, l in blocks:
            part = x[at:at + 2 * l + 1]
            if l > 0:
                d = self.rotations[l - 1][:, :, e]
                part = (d * part[:, None]).sum(0) if transpose else (d * part[None]).sum(1)
            pieces.append(part)
        return torch.cat(pieces)

    def messages(self, k: int, sources: torch.Tensor, radial: torch.Tensor, e: slice) -> torch.Tensor:
        r"""Convolution ``k``'s messages :math:`D_e T_e D_e^\top x_{s(e)}`, ``(D_out, E)``, of the edges
        ``e`` from their ``(D_in, E)`` source features and ``(E, paths)`` radial weights."""
        table = self.tables[k]
        rotated = self._rotate(sources, table.in_blocks, e, transpose=True)
        weights = radial.T * self.frame_harmonics[table.edge_of_path, e]
        products = rotated.index_select(0, table.input_of) * torch.sparse.mm(table.mixing, weights)
        summed = torch.zeros(table.d_out, e.stop - e.start, dtype=sources.dtype).index_add_(0, table.output_of, products)
        return self._rotate(summed, table.out_blocks, e, transpose=False)

    def chunks(self) -> list[slice]:
        """The edges in chunks of :data:`EDGE_CHUNK`."""
        return [slice(a, min(a + EDGE_CHUNK, self.num_edges)) for a in range(0, self.num_edges, EDGE_CHUNK)]

    def _convolutions(self, radial: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """``(K, L, max paths)`` radial weights and ``(N, D_in)`` features to ``(N, D_out)``."""
        x = features.T
        for k, table in enumerate(self.tables):
            x = _Convolution.apply(self, k, x, radial[k, :, :table.mixing.shape[1]])
            if k < len(self.gates):
                x = self.gates[k].unscaled(x)
        return x.T

    def forward(self, weights: list[torch.Tensor], features: torch.Tensor, tape: list | None = None) -> torch.Tensor:
        """``(N, D_in)`` features to ``(N, D_out)`` outputs, without a gradient."""
        with torch.no_grad():
            return self._convolutions(self.radial.evaluate(weights, self.basis), features)

    def loss_and_gradient(self, weights: list[torch.Tensor], features: torch.Tensor, goal: torch.Tensor,
                          grad_weights: list[torch.Tensor]) -> torch.Tensor:
        """Mean squared error between the outputs and ``goal`` ``(N, D_out)``; its gradient with
        respect to the weights is written into the views ``grad_weights``."""
        tape: list = []
        radial = self.radial.evaluate(weights, self.basis, tape).detach().requires_grad_()
        with torch.enable_grad():
            loss = (self._convolutions(radial, features) - goal).pow(2).mean()
            grad_radial, = torch.autograd.grad(loss, radial)
        self.radial.backward(weights, tape, grad_radial, grad_weights)
        return loss.detach()


class _Convolution(torch.autograd.Function):
    """One convolution of a :class:`Rotated`, ``(D_in, N)`` features and ``(L, paths)`` radial
    weights to ``(D_out, N)``, edges in chunks: nothing is kept per edge; the backward pass
    recomputes each chunk under autograd and scatters its gradients onto points and lengths."""

    @staticmethod
    def forward(ctx, executor: Rotated, k: int, x: torch.Tensor, radial: torch.Tensor):
        ctx.executor, ctx.k = executor, k
        ctx.save_for_backward(x, radial)
        summed = torch.zeros(executor.tables[k].d_out, executor.num_points, dtype=x.dtype)
        for e in executor.chunks():
            messages = executor.messages(k, x.index_select(1, executor.source[e]),
                                         radial.index_select(0, executor.length_index[e]), e)
            summed.index_add_(1, executor.destination[e], messages)
        return summed

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        executor, k = ctx.executor, ctx.k
        x, radial = ctx.saved_tensors
        wants_x = ctx.needs_input_grad[2]
        grad_x, grad_radial = torch.zeros_like(x) if wants_x else None, torch.zeros_like(radial)
        for e in executor.chunks():
            source, lengths = executor.source[e], executor.length_index[e]
            with torch.enable_grad():
                sources = x.index_select(1, source).requires_grad_(wants_x)
                weights = radial.index_select(0, lengths).requires_grad_()
                messages = executor.messages(k, sources, weights, e)
                inputs = [sources, weights] if wants_x else [weights]
                grads = torch.autograd.grad(messages, inputs, grad.index_select(1, executor.destination[e]))
            grad_radial.index_add_(0, lengths, grads[-1])
            if grad_x is not None:
                grad_x.index_add_(1, source, grads[0])
        return None, None, grad_x, grad_radial
