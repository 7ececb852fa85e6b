"""The same network written plainly with e3nn's own modules: the yardstick for the fast path.

One ``FullyConnectedTensorProduct`` per convolution applied edge by edge, ``FullyConnectedNet``
radial MLPs and ``Gate``, with the graph, harmonics and radial basis recomputed on every call.
The tests check :class:`~engine.network.Network` against it on the same weights; the benchmark
times training with it as the baseline.
"""

from __future__ import annotations

import numpy as np
import torch
from e3nn import nn, o3

from .network.activations import softplus
from .graph import edges, envelope, radial_basis, with_hub
from .config import ModelConfig
from .network import Network, hidden_irreps
from .network.structure import expanded

__all__ = ["ReferenceNetwork", "copy_weights"]


def _one_per_copy(irreps: o3.Irreps) -> o3.Irreps:
    """``2x0e+1o`` as ``1x0e+1x0e+1x1o``: each copy its own entry, so that e3nn gives every pair of
    copies its own path, in the order :func:`~engine.network.structure.paths` enumerates them."""
    return o3.Irreps([(1, ir) for ir in expanded(irreps)])


class ReferenceNetwork(torch.nn.Module):
    """Plain e3nn version of :class:`~engine.network.Network` (same parameters, same order)."""

    def __init__(self, config: ModelConfig, irreps_in: str = "0e"):
        super().__init__()
        self.config = config
        # one entry per copy, as the fast path enumerates them (same weights, same order)
        self.irreps_in = _one_per_copy(o3.Irreps(irreps_in))
        self.irreps_edge = o3.Irreps.spherical_harmonics(config.lmax, p=-1)
        hidden = _one_per_copy(hidden_irreps(config.lmax, config.hidden_channels))
        self.irreps_out = hidden_irreps(config.lmax) if config.output == "signal" else o3.Irreps("1o")
        self.products, self.radials, self.gates = torch.nn.ModuleList(), torch.nn.ModuleList(), torch.nn.ModuleList()
        features = self.irreps_in
        for k in range(config.layers):
            if k < config.layers - 1:
                gate = nn.Gate("0e", [softplus], f"{len(hidden) - 1}x0e", [torch.sigmoid], hidden[1:])
                self.gates.append(gate)
                out = gate.irreps_in
            else:
                out = self.irreps_out
            product = o3.FullyConnectedTensorProduct(features, self.irreps_edge, out, shared_weights=False)
            self.products.append(product)
            self.radials.append(nn.FullyConnectedNet(
                [config.number_of_basis] + [config.radial_neurons] * config.radial_layers + [product.weight_numel],
                softplus))
            features = hidden

    def forward(self, features: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        n, points = len(positions), positions.detach().numpy()
        max_radius = self.config.basis_range(points)
        pairs = edges(points, self.config.radius)
        graph, stretch = (*pairs, np.zeros(len(pairs[0]), dtype=bool)), 1.0
        if self.config.has_hub:  # a last point at the centroid, its edges weighing 1 and stretched onto the basis
            graph = with_hub(points, *pairs)[1:]
            centroid = positions.mean(0, keepdim=True)
            positions = torch.cat([positions, centroid])
            features = torch.cat([features, features.mean(0, keepdim=True)])
            stretch = max_radius / (positions[:n] - centroid).norm(dim=-1).max()
        source, destination, on_hub = (torch.as_tensor(a) for a in graph)
        vectors = positions[source] - positions[destination]
        lengths = vectors.norm(dim=-1)
        weights = torch.where(on_hub, 1.0, envelope(lengths, self.config.radius))
        harmonics = weights[:, None] * o3.spherical_harmonics(self.irreps_edge, vectors, normalize=True,
                                                              normalization="component")
        embedding = radial_basis(torch.where(on_hub, lengths * stretch, lengths), max_radius, self.config.number_of_basis)
        neighbours = torch.zeros(len(positions), dtype=weights.dtype).index_add(0, destination, weights)
        x = features
        for k, (product, radial) in enumerate(zip(self.products, self.radials)):
            messages = product(x[source], harmonics, radial(embedding))
            x = torch.zeros(len(positions), messages.shape[1], dtype=x.dtype).index_add(0, destination, messages)
            x = x / neighbours[:, None]
            if k < len(self.gates):
                x = self.gates[k](x)
        return x[:n]


def copy_weights(reference: ReferenceNetwork, network: Network) -> None:
    """Give a :class:`~engine.network.Network` the radial-MLP weights of a :class:`ReferenceNetwork`."""
    with torch.no_grad():
        for k, mlp in enumerate(reference.radials):
            layers = list(mlp.parameters())  # one weight per layer, in order
            for stacked, weight in zip(network.radial.hidden, layers[:-1]):
                stacked[k].copy_(weight)
            network.radial.last[k].copy_(layers[-1])

