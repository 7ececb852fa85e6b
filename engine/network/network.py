r"""The seed's equivariant point-convolution network, in modern e3nn terms, made fast.

Each layer is a point convolution

.. math::
    x'_i = \frac{1}{n_i} \sum_{j \in \mathcal N(i)} \sum_{p = (l_1, l_f, l_o)}
        \alpha_p \, R_p(|\vec r_{ij}|) \; C^{p} \big( x_j^{(l_1)} \otimes Y^{(l_f)}(\hat r_{ij}) \big)

followed by a gate (softplus on scalars, sigmoid gates on :math:`l > 0`), except the last;
:math:`n_i` is point :math:`i`'s number of neighbours (:func:`~engine.graph.envelope`).
:math:`C^p` are Clebsch–Gordan coefficients, :math:`R_p` one output of a radial MLP and
:math:`\alpha_p = \sqrt{(2l_o+1) / \#\{\text{paths into } l_o\}}`: numerically the same as
``e3nn.o3.FullyConnectedTensorProduct`` with ``shared_weights=False``, followed by
``e3nn.nn.Gate``.

Speed comes from doing graph-only work once per point set (:mod:`.planned`): edge
harmonics, the radial basis of the distinct edge lengths, and per convolution one sparse
table of every path's Clebsch–Gordan coefficients, so that each step is a few products; the
gradient is derived by hand. Larger graphs turn each edge into its own frame
(:mod:`.rotated`), where each convolution is one small sparse matrix per edge length; under
autograd they stream their edges in chunks instead (:mod:`.streamed`), path by path, with the
radial weights interpolated from a table of edge lengths.
"""

from __future__ import annotations

import torch
from e3nn import o3

from ..config import ModelConfig
from ..graph import Graph
from . import streamed
from .autograd import Planned
from .gate import Gate
from .planned import Plan
from .radial import RadialMLPs
from .rotated import Rotated
from .structure import Convolution

__all__ = ["Network", "hidden_irreps", "MAX_PLANNED_EDGES", "ROTATED_FROM_EDGES"]

MAX_PLANNED_EDGES = 3000  # larger graphs stream their edges for inference
ROTATED_FROM_EDGES = 100  # training graphs from this many edges run in edge frames (measured faster from 10 points)


def hidden_irreps(lmax: int, channels: int = 1) -> o3.Irreps:
    """Features of each degree with parity :math:`(-1)^l`, ``channels`` copies of each l ≥ 1
    after one scalar: the seed's ``0e+1o+2e+...`` with one, ``0e+2x1o+2x2e+...`` with two."""
    return o3.Irreps([(1 if l == 0 else channels, (l, (-1) ** l)) for l in range(lmax + 1)])


class Network(torch.nn.Module):
    """The seed's network: ``layers - 1`` gated convolutions, then a plain one.

    Parameters
    ----------
    config : :class:`ModelConfig`
    irreps_in : per-point input features, e.g. ``"0e"`` or ``"0e+2e"`` with an order parameter
    generator : draws the initial weights (torch's global generator by default)

    >>> net = Network(ModelConfig(lmax=2, layers=2), "0e")
    >>> graph = Graph.of(net.config, torch.randn(4, 3).numpy())
    >>> net(torch.ones(4, 1, dtype=torch.float64), graph).shape
    torch.Size([4, 9])
    """

    def __init__(self, config: ModelConfig, irreps_in: str = "0e", generator: torch.Generator | None = None):
        super().__init__()
        self.config = config
        self.irreps_in = o3.Irreps(irreps_in)
        hidden = hidden_irreps(config.lmax, config.hidden_channels)
        self.irreps_out = hidden_irreps(config.lmax) if config.output == "signal" else o3.Irreps("1o")
        convolutions, gates = [], []
        features = self.irreps_in
        for _ in range(config.layers - 1):
            gates.append(Gate(hidden[1:]))
            convolutions.append(Convolution(features, gates[-1].irreps_in, config.lmax))
            features = hidden
        convolutions.append(Convolution(features, self.irreps_out, config.lmax))
        self.convolutions = torch.nn.ModuleList(convolutions)
        self.gates = torch.nn.ModuleList(gates)
        self.radial = RadialMLPs(config.number_of_basis, config.radial_neurons, config.radial_layers,
                                 [c.num_paths for c in convolutions], generator)

    def forward(self, features: torch.Tensor, graph: Graph) -> torch.Tensor:
        """``(N, dim irreps_in)`` features on the graph's points to ``(N, dim irreps_out)``.

        Graphs of up to :data:`MAX_PLANNED_EDGES` edges run through the graph's
        :class:`~engine.network.planned.Plan` (with its hand-derived gradient when one is wanted);
        larger graphs run in edge frames (:class:`~engine.network.rotated.Rotated`, exact to the working
        precision: :mod:`.radial_nodes`), or,
        when autograd wants a gradient through them, stream their edges (:mod:`.streamed`).
        """
        parameters = tuple(self.radial.parameters())
        wants_grad = torch.is_grad_enabled() and (features.requires_grad or any(p.requires_grad for p in parameters))
        features = graph.padded(features)
        if graph.num_edges > MAX_PLANNED_EDGES:
            if wants_grad:
                return graph.vertices(streamed.run(self, features, graph))
            outputs = self.rotated(graph).forward(self.radial.unflatten(self.radial.flat()), features)
        elif wants_grad:
            return graph.vertices(Planned.apply(self.plan(graph), self.radial.flat(), features, *parameters))
        else:
            outputs = self.plan(graph).forward(self.radial.unflatten(self.radial.flat()), features)
        return graph.vertices(outputs).contiguous()

    def plan(self, graph: Graph) -> Plan:
        """This network's :class:`~engine.network.planned.Plan` on ``graph``, built once per graph."""
        return graph.cached(self, lambda g: Plan(self, g))

    def trainer(self, graph: Graph) -> Plan | Rotated:
        """The executor that trains fastest on ``graph``: the :class:`~engine.network.planned.Plan`
        below :data:`ROTATED_FROM_EDGES` edges, :class:`~engine.network.rotated.Rotated` from there;
        both give ``forward(weights, features)`` and ``loss_and_gradient``, on features of every
        point of the graph (:meth:`Graph.padded`). Built once per graph."""
        if graph.num_edges < ROTATED_FROM_EDGES:
            return self.plan(graph)
        return self.rotated(graph)

    def rotated(self, graph: Graph) -> Rotated:
        """This network's :class:`~engine.network.rotated.Rotated` on ``graph``, built once per graph."""
        return graph.cached((self, Rotated), lambda g: Rotated(self, g))
