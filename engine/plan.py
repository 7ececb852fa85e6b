r"""The network on one fixed point set: a few dense and sparse products, and their gradient by hand.

Everything the point set fixes is prepared once: the edge harmonics :math:`Y_{f,e}` (divided
by :math:`\sqrt n`), the radial basis of the distinct edge lengths, and per convolution its
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

import math

import torch

from ._torch_private import version
from .activations import sigmoid_backward, softplus, softplus_backward
from .graph import Graph

__all__ = ["Plan", "message_products"]


def message_products(table_t: torch.Tensor, x_source: torch.Tensor, harmonics: torch.Tensor) -> torch.Tensor:
    """:math:`P = C^\\top (x_{s(e)} \\otimes Y_e)`, ``(Q, E)``, from the transposed sparse table
    ``(Q, D_in D_edge)``, the ``(D_in, E)`` source features and the ``(D_edge, E)`` harmonics."""
    outer = x_source[:, None, :] * harmonics[None]
    return torch.sparse.mm(table_t, outer.reshape(-1, x_source.shape[1]))


class Plan:
    """A :class:`~engine.model.Network`'s structure on one :class:`~engine.graph.Graph`.

    The weights are not part of the plan: each call takes them as the views
    ``network.radial.unflatten(theta)`` of a flat vector, so that an optimiser can update one
    tensor.
    """

    def __init__(self, network, graph: Graph):
        dtype = graph.harmonics.dtype
        self.radial = network.radial
        embedding = graph.embedding * self.radial.scales[0]
        self.basis = embedding.expand(len(self.radial.last), *embedding.shape).contiguous()
        self.alphas = [1.0] + self.radial.scales[1:]  # the first scale is in the basis already
        self.harmonics = (graph.harmonics / math.sqrt(graph.neighbours)).T.contiguous()
        self.num_points, self.num_edges = graph.num_points, graph.num_edges
        self.source, self.destination, self.length_index = graph.source, graph.destination, graph.length_index
        self.all_pairs = graph.all_pairs
        self.convolutions = []
        width = self.radial.shapes[-1][2]
        for k, c in enumerate(network.convolutions):
            scale = network.gates[k - 1].output_scale if k > 0 else None
            gather = c.gather(dtype)
            # where R_p(q)(|r_e|) sits in the flat (lengths, paths) radial weights: (Q E,)
            weight_at = (self.length_index[None, :] * width + c.path_of[:, None]).view(-1)
            self.convolutions.append((*c.sparse(dtype, scale), weight_at, gather, gather.T.contiguous(), c.shape))
        self.gates = [(g.num_gates, g.gate_of) for g in network.gates]
        self.zero = torch.zeros((), dtype=dtype)  # the ignored first argument of baddbmm
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
        *hidden, last = weights
        a = self.basis
        for weight, alpha in zip(hidden, self.alphas):  # z = s a W, a' = phi(z)
            z = torch.baddbmm(self.zero, a, weight, beta=0, alpha=alpha)
            if tape is not None:
                tape.append((a, z))
            a = softplus(z)
        radial = torch.baddbmm(self.zero, a, last, beta=0, alpha=self.alphas[len(hidden)])  # (K, L, max paths)
        if tape is not None:
            tape.append(a)
        x = features.T
        for k, (_, _, weight_at, gather, _, _) in enumerate(self.convolutions):
            products = self._first_products(features) if k == 0 else self._products(k, x)
            expanded = radial[k].view(-1).index_select(0, weight_at).view_as(products)  # R_p(q)(|r_e|)
            x = gather @ self._into_destinations(products * expanded)
            if tape is not None:
                tape.append((products, expanded))
            if k < len(self.gates):  # [phi(s), sigma(g_k) v_k]; c_phi, c_sigma are in the next table
                num_gates, gate_of = self.gates[k]
                scalars, gated = x[:1], x[1 + num_gates:]
                sigmoids = torch.sigmoid(x[1:1 + num_gates])
                factors = sigmoids.index_select(0, gate_of)
                if tape is not None:
                    tape.append((scalars, sigmoids, factors, gated))
                x = torch.cat([softplus(scalars), gated * factors])
        return x.T

    def backward(self, weights: list[torch.Tensor], tape: list, grad: torch.Tensor,
                 grad_weights: list[torch.Tensor], input_grad: bool = False) -> torch.Tensor | None:
        """Write the weights' gradient into the views ``grad_weights`` from the outputs'
        ``(N, D_out)``; return the features' gradient when ``input_grad``."""
        *hidden, last = weights
        *grad_hidden, grad_last = grad_weights
        grad_radial = torch.zeros(len(last), len(self.basis[0]), last.shape[2], dtype=grad.dtype)
        grad = grad.T
        for k in reversed(range(len(self.convolutions))):
            table, _, weight_at, _, gather_t, (d_in, d_edge, _, _) = self.convolutions[k]
            if k < len(self.gates):  # [phi'(s) g_s, sigma'(g_k) <g_v, v>_k, sigma(g_k) g_v]
                num_gates, gate_of = self.gates[k]
                scalars, sigmoids, factors, gated = tape.pop()
                grad_gated = grad[1:]
                grad_sigmoids = torch.zeros_like(sigmoids).index_add_(0, gate_of, grad_gated * gated)
                grad = torch.cat([softplus_backward(grad[:1], scalars), sigmoid_backward(grad_sigmoids, sigmoids),
                                  grad_gated * factors])
            products, expanded = tape.pop()
            messages = (gather_t @ grad).index_select(1, self.destination)  # d loss / d (P R), per edge
            grad_radial[k].view(-1).index_add_(0, weight_at, (messages * products).view(-1))
            if k > 0 or input_grad:  # C (m R), contracted with Y and summed over each source's edges
                outer = torch.sparse.mm(table, messages * expanded).view(d_in, d_edge, self.num_edges)
                grad = self._into_sources((outer * self.harmonics).sum(1))
        a = tape.pop()  # the MLPs, transposed: dW = s a^T dz, da = s dz W^T, dz = phi'(z) da
        alpha = self.alphas[len(hidden)]
        torch.baddbmm(self.zero, a.transpose(1, 2), grad_radial, beta=0, alpha=alpha, out=grad_last)
        grad_a = torch.baddbmm(self.zero, grad_radial, last.transpose(1, 2), beta=0, alpha=alpha)
        for j in reversed(range(len(hidden))):
            a, z = tape.pop()
            grad_z = softplus_backward(grad_a, z)
            torch.baddbmm(self.zero, a.transpose(1, 2), grad_z, beta=0, alpha=self.alphas[j], out=grad_hidden[j])
            if j > 0:
                grad_a = torch.baddbmm(self.zero, grad_z, hidden[j].transpose(1, 2), beta=0, alpha=self.alphas[j])
        return grad.T if input_grad else None

    def loss_and_gradient(self, weights: list[torch.Tensor], features: torch.Tensor, goal: torch.Tensor,
                          grad_weights: list[torch.Tensor]) -> torch.Tensor:
        """Mean squared error between the outputs and ``goal`` ``(N, D_out)``; its gradient with
        respect to the weights is written into the views ``grad_weights``."""
        tape: list = []
        difference = self.forward(weights, features, tape) - goal
        self.backward(weights, tape, difference * (2.0 / difference.numel()), grad_weights)
        return difference.pow(2).mean()
