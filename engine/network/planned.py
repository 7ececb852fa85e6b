r"""The network on one fixed point set: a few dense and sparse products, and their gradient by hand.

Everything the point set fixes is prepared once: the edge harmonics :math:`Y_{f,e}` (normalised
by the graph), the radial basis of the distinct edge lengths, and per convolution its
sparse Clebsch–Gordan table :math:`C`. Features are kept feature-major, ``(D, N)``, so that
each convolution's messages come from one sparse-dense product:

.. math::
    P_{q,e} = \sum_{(j f)} C_{(j f), q}\; x_{j, s(e)}\, Y_{f,e}, \qquad
    x'_{o,i} = \sum_{q \to o}\; \sum_{e \to i} P_{q,e}\, R_{p(q)}(|\vec r_e|).

A gate's constant output scales :math:`c_\phi, c_\sigma` are folded into the rows of the next
table. The backward pass runs the same products transposed (each step says which). Training
needs no autograd graph: on this network's hundred-odd small operations, building one costs
more than the arithmetic.
"""

from __future__ import annotations


import torch

from .._torch_private import version
from ..graph import Graph
from .structure import message_products

__all__ = ["Plan"]


class Plan:
    """A :class:`~engine.network.Network`'s structure on one :class:`~engine.graph.Graph`.

    The weights are not part of the plan: each call takes them as the views
    ``network.radial.unflatten(theta)`` of a flat vector, so that an optimiser can update one
    tensor.
    """

    def __init__(self, network, graph: Graph):
        dtype = graph.harmonics.dtype
        self.radial = network.radial
        self.basis = self.radial.stacked_basis(graph.embedding)
        self.harmonics = graph.harmonics.T.contiguous()
        self.num_points, self.num_edges = graph.num_points, graph.num_edges
        self.source, self.destination, self.length_index = graph.source, graph.destination, graph.length_index
        self.all_pairs, self.graph = graph.all_pairs, graph
        self.convolutions = []
        width = self.radial.shapes[-1][2]
        for k, c in enumerate(network.convolutions):
            scale = network.gates[k - 1].output_scale if k > 0 else None
            gather = c.gather(dtype)
            # where R_p(q)(|r_e|) sits in the flat (lengths, paths) radial weights: (Q E,)
            weight_at = (self.length_index[None, :] * width + c.path_of[:, None]).view(-1)
            self.convolutions.append((*c.sparse(dtype, scale), weight_at, gather, gather.T.contiguous(), c.shape))
        self.gates = list(network.gates)
        self._first: tuple = (None, -1, None)  # features, their version, their message products

    def _products(self, k: int, x: torch.Tensor) -> torch.Tensor:
        """Convolution ``k``'s message products from ``(D_in, N)`` features."""
        return message_products(self.convolutions[k][1], x.index_select(1, self.source), self.harmonics)

    def _first_products(self, features: torch.Tensor) -> torch.Tensor:
        """The first convolution's products, kept while the same features come back unchanged."""
        cached, seen, products = self._first
        if cached is not features or seen != version(features):
            products = self._products(0, features.T)
            self._first = (features, version(features), products)
        return products

    def _into_destinations(self, messages: torch.Tensor) -> torch.Tensor:
        """``(D, E)`` to ``(D, N)``, summing each point's incoming edges."""
        if self.all_pairs:
            return messages.view(len(messages), self.num_points, self.num_points).sum(2)
        summed = torch.zeros(len(messages), self.num_points, dtype=messages.dtype)
        return summed.index_add_(1, self.destination, messages)

    def _into_sources(self, messages: torch.Tensor) -> torch.Tensor:
        """``(D, E)`` to ``(D, N)``, summing each point's outgoing edges."""
        if self.all_pairs:
            return messages.view(len(messages), self.num_points, self.num_points).sum(1)
        summed = torch.zeros(len(messages), self.num_points, dtype=messages.dtype)
        return summed.index_add_(1, self.source, messages)

    def forward(self, weights: list[torch.Tensor], features: torch.Tensor,
                tape: list | None = None) -> torch.Tensor:
        """``(N, D_in)`` features to ``(N, D_out)`` outputs (a transposed view); with a ``tape``,
        what :meth:`backward` needs is pushed on it."""
        radial = self.radial.evaluate(weights, self.basis, tape)  # (K, L, max paths)
        x = features.T
        for k, (_, _, weight_at, gather, _, _) in enumerate(self.convolutions):
            products = self._first_products(features) if k == 0 else self._products(k, x)
            expanded = radial[k].view(-1).index_select(0, weight_at).view_as(products)  # R_p(q)(|r_e|)
            x = gather @ self._into_destinations(products * expanded)
            if tape is not None:
                tape.append((products, expanded))
            if k < len(self.gates):  # c_phi, c_sigma are in the next table
                x = self.gates[k].unscaled(x, tape)
        return x.T

    def backward(self, weights: list[torch.Tensor], tape: list, grad: torch.Tensor,
                 grad_weights: list[torch.Tensor], input_grad: bool = False) -> torch.Tensor | None:
        """Write the weights' gradient into the views ``grad_weights`` from the outputs'
        ``(N, D_out)``; return the features' gradient when ``input_grad``."""
        last = weights[-1]
        grad_radial = torch.zeros(len(last), len(self.basis[0]), last.shape[2], dtype=grad.dtype)
        grad = grad.T
        for k in reversed(range(len(self.convolutions))):
            table, _, weight_at, _, gather_t, (d_in, d_edge, _, _) = self.convolutions[k]
            if k < len(self.gates):
                grad = self.gates[k].backward(grad, tape)
            products, expanded = tape.pop()
            messages = (gather_t @ grad).index_select(1, self.destination)  # d loss / d (P R), per edge
            grad_radial[k].view(-1).index_add_(0, weight_at, (messages * products).view(-1))
            if k > 0 or input_grad:  # C (m R), contracted with Y and summed over each source's edges
                outer = torch.sparse.mm(table, messages * expanded).view(d_in, d_edge, self.num_edges)
                grad = self._into_sources((outer * self.harmonics).sum(1))
        self.radial.backward(weights, tape, grad_radial, grad_weights)
        return grad.T if input_grad else None

    def loss_and_gradient(self, weights: list[torch.Tensor], features: torch.Tensor, goal: torch.Tensor,
                          grad_weights: list[torch.Tensor]) -> torch.Tensor:
        """Mean squared error between the vertices' outputs and ``goal`` ``(N, D_out)``
        (:meth:`Graph.squared_error`); its gradient with respect to the weights is written into
        the views ``grad_weights``."""
        tape: list = []
        loss, grad = self.graph.squared_error(self.forward(weights, features, tape), goal)
        self.backward(weights, tape, grad, grad_weights)
        return loss
