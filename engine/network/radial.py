r"""The radial MLPs: every convolution's path weights from the radial basis of edge lengths,
defined once here and evaluated by every executor (with a hand-derived gradient for the plan)."""

from __future__ import annotations

import math

import torch

from ..config import ModelConfig
from ..graph import Graph, radial_basis
from .activations import SOFTPLUS_SCALE, softplus, softplus_backward

__all__ = ["RadialMLPs", "RadialTable", "RADIAL_TABLE_SIZE", "RADIAL_BAND"]

RADIAL_TABLE_SIZE = 4096
# lengths an MLP layer takes at a time: a band stays in cache through every layer (a step of the MLPs
# on 83,128 lengths, forward and backward, 0.86 s at once, 0.67 s in bands of 512)
RADIAL_BAND = 512


def _scaled_bmm(a: torch.Tensor, b: torch.Tensor, alpha: float) -> torch.Tensor:
    r""":math:`\alpha\, a b` for batches of matrices, the scale inside the product: scaling a weight
    or a product in a pass of its own cost more than the product itself on a few lengths."""
    return torch.baddbmm(a.new_empty(a.shape[0], a.shape[1], b.shape[2]), a, b, beta=0.0, alpha=alpha)


class RadialMLPs(torch.nn.Module):
    r"""Path weights of every convolution from the radial basis, all MLPs in one batch.

    Convolution :math:`k` has its own MLP (parametrised as ``e3nn.nn.FullyConnectedNet`` with a
    second-moment-normalised softplus :math:`\phi`, :math:`\beta = 5`):

    .. math::
        z_{j+1} = s_j\, a_j W^{(k)}_j, \quad a_{j+1} = \phi(z_{j+1}), \qquad R^{(k)} = s_L\, a_L W^{(k)}_L

    with :math:`a_0` the edge embedding and :math:`s_j = c_j / \sqrt{d_j}`. All MLPs read the
    same embedding, so their hidden layers are stacked and evaluated as batched products.

    Training moves the parameters as one flat vector (:meth:`flat`): the stacked hidden
    weights, then the last layers stacked into ``(K, d_L, max paths)``, padded with zeros.
    """

    def __init__(self, number_of_basis: int, neurons: int, layers: int, paths: list[int],
                 generator: torch.Generator | None = None):
        super().__init__()
        sizes = [number_of_basis] + [neurons] * layers
        k = len(paths)

        def normal(*shape):
            return torch.nn.Parameter(torch.randn(*shape, dtype=torch.float64, generator=generator))

        self.hidden = torch.nn.ParameterList([normal(k, a, b) for a, b in zip(sizes, sizes[1:])])
        self.last = torch.nn.ParameterList([normal(sizes[-1], p) for p in paths])
        c = SOFTPLUS_SCALE
        self.scales = [1.0 / math.sqrt(sizes[0])] + [c / math.sqrt(h) for h in sizes[1:]]
        self.alphas = [1.0] + self.scales[1:]  # the scales applied in evaluate: s_0 is in the stacked basis
        self.shapes = [(k, a, b) for a, b in zip(sizes, sizes[1:])] + [(k, sizes[-1], max(paths))]
        self.paths = list(paths)

    def stacked_basis(self, embedding: torch.Tensor) -> torch.Tensor:
        """``(L, number_of_basis)`` embedding to the MLPs' input ``(K, L, number_of_basis)``, scaled by :math:`s_0`."""
        scaled = embedding * self.scales[0]
        return scaled.expand(len(self.paths), *scaled.shape).contiguous()

    def features(self, weights: list[torch.Tensor], basis: torch.Tensor, tape: list | None = None) -> torch.Tensor:
        """The last hidden layer :math:`a_L` of all MLPs, ``(K, L, d_L)``, from the :meth:`stacked_basis`
        and the views ``weights`` (:meth:`unflatten`; the last layer is not read), a band of
        :data:`RADIAL_BAND` lengths at a time through every layer; with a ``tape``, what
        :meth:`features_backward` needs is pushed on it."""
        bands, kept = [], []
        for start in range(0, basis.shape[1], RADIAL_BAND):
            a = basis[:, start:start + RADIAL_BAND]
            for weight, alpha in zip(weights[:-1], self.alphas):  # z = s a W, a' = phi(z)
                z = _scaled_bmm(a, weight, alpha)
                if tape is not None:
                    kept.append((a, z))
                a = softplus(z)
            bands.append(a)
        if tape is not None:
            tape.append(kept)
        return torch.cat(bands, 1) if len(bands) > 1 else bands[0]

    def evaluate(self, weights: list[torch.Tensor], basis: torch.Tensor, tape: list | None = None) -> torch.Tensor:
        """All MLPs at once from the :meth:`stacked_basis`: ``(K, L, max paths)`` with the views
        ``weights`` (:meth:`unflatten`); with a ``tape``, what :meth:`backward` needs is pushed on it."""
        a = self.features(weights, basis, tape)
        if tape is not None:
            tape.append(a)
        return torch.bmm(a, weights[-1] * self.last_scale)

    @property
    def last_scale(self) -> float:
        r""":math:`s_L`, the last layer's scale: :math:`R = s_L\, a_L W_L`."""
        return self.alphas[len(self.shapes) - 1]

    def backward(self, weights: list[torch.Tensor], tape: list, grad: torch.Tensor,
                 grad_weights: list[torch.Tensor]) -> None:
        r"""Write the gradient of :meth:`evaluate` into the views ``grad_weights`` from the outputs'
        ``(K, L, max paths)``: :math:`dW_L = s_L a_L^\top dR`, then :meth:`features_backward` from
        :math:`da_L = s_L\, dR\, W_L^\top`."""
        a = tape.pop()
        torch.bmm(a.transpose(1, 2), grad, out=grad_weights[-1]).mul_(self.last_scale)
        grad_a = torch.bmm(grad, (weights[-1] * self.last_scale).transpose(1, 2))
        self.features_backward(weights, tape, grad_a, grad_weights)

    def features_backward(self, weights: list[torch.Tensor], tape: list, grad_a: torch.Tensor,
                          grad_weights: list[torch.Tensor]) -> None:
        r"""Write the hidden weights' gradient into the views ``grad_weights[:-1]`` from
        :meth:`features`' ``(K, L, d_L)``, band by band, the layers transposed: :math:`dW = s \sum a^\top dz`,
        :math:`da = s\, dz\, W^\top`, :math:`dz = \phi'(z)\, da`."""
        kept = tape.pop()
        layers = len(weights) - 1
        for band, start in enumerate(range(0, grad_a.shape[1], RADIAL_BAND)):
            grad = grad_a[:, start:start + RADIAL_BAND]
            for j in reversed(range(layers)):
                a, z = kept[band * layers + j]
                grad_z = softplus_backward(grad, z)
                grad_weights[j].baddbmm_(a.transpose(1, 2), grad_z, beta=1.0 if band else 0.0, alpha=self.alphas[j])
                if j > 0:
                    grad = _scaled_bmm(grad_z, weights[j].transpose(1, 2), self.alphas[j])

    def forward(self, embedding: torch.Tensor) -> list[torch.Tensor]:
        """``(L, number_of_basis)`` to one ``(L, paths_k)`` tensor per convolution, differentiable
        in the parameters: :meth:`evaluate` on them, the last layers padded and stacked."""
        width = self.shapes[-1][2]
        last = torch.stack([torch.nn.functional.pad(w, (0, width - w.shape[1])) for w in self.last])
        values = self.evaluate([*self.hidden, last], self.stacked_basis(embedding))
        return [values[k, :, :p] for k, p in enumerate(self.paths)]

    def unflatten(self, theta: torch.Tensor) -> list[torch.Tensor]:
        """Views of a flat vector: each stacked hidden weight, then the padded last layers."""
        return [t.view(shape) for t, shape in zip(theta.split([math.prod(s) for s in self.shapes]), self.shapes)]

    def unpadded(self, theta: torch.Tensor) -> list[torch.Tensor]:
        """Views of a flat vector shaped as :meth:`parameters`."""
        *hidden, last = self.unflatten(theta)
        return hidden + [last[k, :, :p] for k, p in enumerate(self.paths)]

    def flat(self) -> torch.Tensor:
        """The parameters as one flat vector (a copy)."""
        theta = torch.zeros(sum(math.prod(s) for s in self.shapes), dtype=self.last[0].dtype)
        with torch.no_grad():
            for view, parameter in zip(self.unpadded(theta), self.parameters()):
                view.copy_(parameter)
        return theta

    def load_flat(self, theta: torch.Tensor) -> None:
        """Copy a flat vector into the parameters."""
        with torch.no_grad():
            for view, parameter in zip(self.unpadded(theta), self.parameters()):
                parameter.copy_(view)


class RadialTable:
    r"""The radial weights of every convolution tabulated on :data:`RADIAL_TABLE_SIZE` lengths
    from 0 to the longest edge and interpolated linearly: for graphs with more edges than
    that, the MLPs run once per table entry instead of once per edge. The interpolation
    error is :math:`\le h^2 \max|R''| / 8` for spacing :math:`h`: measured against the MLPs on
    20,000 points (radius 1.25), 1.9e-6 of the largest weight at initial weights, 9e-6 and 8e-5
    with every weight doubled and quadrupled; above float32's rounding, unlike the edge frames'
    checked radial nodes (:mod:`.radial_nodes`)."""

    def __init__(self, mlps: RadialMLPs, config: ModelConfig, graph: Graph):
        lengths = graph.lengths
        self.step = max(float(lengths.max()), 1e-12) / (RADIAL_TABLE_SIZE - 1)
        grid = torch.arange(RADIAL_TABLE_SIZE, dtype=lengths.dtype) * self.step
        self.values = mlps(radial_basis(grid, graph.max_radius, config.number_of_basis))

    def __call__(self, k: int, lengths: torch.Tensor) -> torch.Tensor:
        """Weights ``(E, paths_k)`` of convolution ``k`` at ``(E,)`` edge lengths."""
        t = lengths / self.step
        i = t.floor().long().clamp(0, RADIAL_TABLE_SIZE - 2)
        return torch.lerp(self.values[k][i], self.values[k][i + 1], (t - i)[:, None])
