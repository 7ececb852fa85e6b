"""The network on graphs too large for a :class:`~engine.network.planned.Plan`: the same
products, edges in chunks of :data:`EDGE_CHUNK` and nothing kept per edge, with the radial
weights interpolated from a :class:`~engine.network.radial.RadialTable`. Differentiable by
autograd (learning an order parameter on a large graph goes through it)."""

from __future__ import annotations

import functools

import torch

from ..graph import Graph
from .radial import RadialTable
from .structure import Convolution, message_products

__all__ = ["EDGE_CHUNK", "convolve", "run"]

EDGE_CHUNK = 2048  # edges per chunk (measured fastest of 1k-16k)


def convolve(convolution: Convolution, x: torch.Tensor, graph: Graph, radial) -> torch.Tensor:
    """One convolution of ``(N, D_in)`` features to ``(N, D_out)``; ``radial(lengths)`` gives a
    chunk's ``(E, paths)`` weights."""
    table_t, x_t = convolution.sparse(x.dtype)[1], x.T.contiguous()
    summed = torch.zeros(convolution.shape[2], graph.num_points, dtype=x.dtype)
    for start in range(0, graph.num_edges, EDGE_CHUNK):
        e = slice(start, start + EDGE_CHUNK)
        products = message_products(table_t, x_t.index_select(1, graph.source[e]), graph.harmonics[e].T.contiguous())
        weights = radial(graph.lengths[e]).T.index_select(0, convolution.path_of)
        summed.index_add_(1, graph.destination[e], products * weights)
    return (convolution.gather(x.dtype) @ summed).T


def run(network, features: torch.Tensor, graph: Graph) -> torch.Tensor:
    """``network`` on ``(N, D_in)`` features: each convolution streamed, then its gate."""
    table = RadialTable(network.radial, network.config, graph)
    x = features
    for k, convolution in enumerate(network.convolutions):
        x = convolve(convolution, x, graph, functools.partial(table, k))
        if k < len(network.gates):
            x = network.gates[k](x)
    return x
