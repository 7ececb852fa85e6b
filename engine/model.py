r"""The seed's equivariant point-convolution network, in modern e3nn terms, made fast.

Each layer is a point convolution

.. math::
    x'_i = \frac{1}{\sqrt{n}} \sum_{j \in \mathcal N(i)} \sum_{p = (l_1, l_f, l_o)}
        \alpha_p \, R_p(|\vec r_{ij}|) \; C^{p} \big( x_j^{(l_1)} \otimes Y^{(l_f)}(\hat r_{ij}) \big)

followed by a gate (softplus on scalars, sigmoid gates on :math:`l > 0`), except the last.
:math:`C^p` are Clebsch–Gordan coefficients, :math:`R_p` one output of a radial MLP and
:math:`\alpha_p = \sqrt{(2l_o+1) / \#\{\text{paths into } l_o\}}`: numerically the same as
``e3nn.o3.FullyConnectedTensorProduct`` with ``shared_weights=False``, followed by
``e3nn.nn.Gate``.

Speed comes from doing graph-only work once per point set (:mod:`engine.plan`): edge
harmonics, the radial basis of the distinct edge lengths, and per convolution one sparse
table of every path's Clebsch–Gordan coefficients, so that each step is a few products; the
gradient is derived by hand. Graphs too large for that stream their edges in chunks instead,
path by path, with the radial weights interpolated from a table of edge lengths.
"""

from __future__ import annotations

import collections
import functools
import math
import warnings

import numpy as np
import torch
from e3nn import o3

from .config import ModelConfig
from .activations import SIGMOID_SCALE, SOFTPLUS_SCALE, softplus
from .graph import Graph, radial_basis
from .plan import Plan, message_products

__all__ = ["Network", "hidden_irreps"]

MAX_PLANNED_EDGES = 3000  # larger graphs stream their edges for inference
EDGE_CHUNK = 2048  # edges per chunk on the streamed path (measured fastest of 1k-16k)
RADIAL_TABLE_SIZE = 4096
OUTPUT_INIT_SCALE = 0.1  # last layer's initial weights; at 1.0 the seed's Task 1 misses in half the seeds


def hidden_irreps(lmax: int) -> o3.Irreps:
    """The seed's features: one copy of each degree, parity :math:`(-1)^l`: ``0e+1o+2e+...``."""
    return o3.Irreps([(1, (l, (-1) ** l)) for l in range(lmax + 1)])




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
        self.shapes = [(k, a, b) for a, b in zip(sizes, sizes[1:])] + [(k, sizes[-1], max(paths))]
        self.paths = list(paths)

    def forward(self, embedding: torch.Tensor) -> list[torch.Tensor]:
        """``(E, number_of_basis)`` to one ``(E, paths_k)`` tensor per convolution."""
        h = embedding
        for weight, scale in zip(self.hidden, self.scales):
            h = softplus(torch.matmul(h, weight) * scale)
        h = h.expand(len(self.last), *h.shape[-2:])
        scale = self.scales[len(self.hidden)]
        return [(h[k] @ weight) * scale for k, weight in enumerate(self.last)]

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
    error is :math:`\le h^2 \max|R''| / 8` for spacing :math:`h` (below float32 resolution for
    the seed's basis)."""

    def __init__(self, mlps: RadialMLPs, config: ModelConfig, lengths: torch.Tensor):
        self.step = max(float(lengths.max()), 1e-12) / (RADIAL_TABLE_SIZE - 1)
        grid = torch.arange(RADIAL_TABLE_SIZE, dtype=lengths.dtype) * self.step
        self.values = mlps(radial_basis(grid, config.max_radius, config.number_of_basis))

    def __call__(self, k: int, lengths: torch.Tensor) -> torch.Tensor:
        """Weights ``(E, paths_k)`` of convolution ``k`` at ``(E,)`` edge lengths."""
        t = lengths / self.step
        i = t.floor().long().clamp(0, RADIAL_TABLE_SIZE - 2)
        return torch.lerp(self.values[k][i], self.values[k][i + 1], (t - i)[:, None])


_FACTORIALS = np.array([math.factorial(k) for k in range(64)], dtype=np.float64)  # for l up to 10


@functools.lru_cache(maxsize=None)
def clebsch_gordan(l1: int, l2: int, l3: int) -> np.ndarray:
    r"""Real Clebsch–Gordan coefficients, float64 ``(2l_1+1, 2l_2+1, 2l_3+1)``: e3nn's ``wigner_3j``.

    The complex coefficients come from Racah's formula in floating point,

    .. math::
        \langle l_1 m_1 l_2 m_2 | l_3 m_3 \rangle \propto \sum_k \frac{(-1)^k}{k!\,(l_1+l_2-l_3-k)!\,
        (l_1-m_1-k)!\,(l_2+m_2-k)!\,(l_3-l_2+m_1+k)!\,(l_3-l_1-m_2+k)!},

    then move to e3nn's real basis and are normalised to :math:`\sum C^2 = 1`. Same numbers as
    ``e3nn.o3.wigner_3j`` to rounding, without its exact rational arithmetic (0.1 s per process).
    """
    m1, m2 = np.arange(-l1, l1 + 1)[:, None], np.arange(-l2, l2 + 1)[None, :]
    m3 = m1 + m2
    k = np.arange(l1 + l2 - l3 + 1)[:, None, None]
    # the six factorial arguments above, (6, k, m1, m2), as constant + k + m1 + m2 terms
    args = (np.array([0, l1 + l2 - l3, l1, l2, l3 - l2, l3 - l1])[:, None, None, None]
            + np.array([1, -1, -1, -1, 1, 1])[:, None, None, None] * k
            + np.array([0, 0, -1, 0, 1, 0])[:, None, None, None] * m1
            + np.array([0, 0, 0, 1, 0, -1])[:, None, None, None] * m2)
    valid = (args >= 0).all(0)
    total = np.where(valid, (-1.0) ** k / _FACTORIALS[np.maximum(args, 0)].prod(0), 0.0).sum(0)
    inside = np.abs(m3) <= l3
    m3c = np.where(inside, m3, 0)
    root = np.sqrt(_FACTORIALS[l3 + m3c] * _FACTORIALS[l3 - m3c] * _FACTORIALS[l1 - m1] * _FACTORIALS[l1 + m1]
                   * _FACTORIALS[l2 - m2] * _FACTORIALS[l2 + m2])
    complex_cg = np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1))
    i, j = np.nonzero(inside)
    complex_cg[i, j, m3[i, j] + l3] = (root * total)[i, j]
    q1, q2, q3 = (_real_to_complex(l) for l in (l1, l2, l3))  # one basis index at a time:
    real = (q1.T @ complex_cg.reshape(len(q1), -1)).reshape(complex_cg.shape)
    real = (real.transpose(0, 2, 1) @ q2).transpose(0, 2, 1)
    real = (real @ q3.conj()).real
    real /= np.linalg.norm(real)
    real.flags.writeable = False  # cached and shared
    return real


@functools.lru_cache(maxsize=None)
def _nonzero_clebsch_gordan(l1: int, l2: int, l3: int) -> tuple[np.ndarray, ...]:
    """The non-zero entries of :func:`clebsch_gordan`: their three indices and values."""
    table = clebsch_gordan(l1, l2, l3)
    j, g, q = np.nonzero(table)
    return j, g, q, table[j, g, q]


@functools.lru_cache(maxsize=None)
def _real_to_complex(l: int) -> np.ndarray:
    return o3.change_basis_real_to_complex(l, dtype=torch.float64).numpy()


def _expanded(irreps: o3.Irreps) -> list[o3.Irrep]:
    return [ir for mul, ir in irreps for _ in range(mul)]


class Convolution(torch.nn.Module):
    r"""The structure of one point convolution from ``irreps_in`` to ``irreps_out``.

    Paths are enumerated as e3nn's ``FullyConnectedTensorProduct`` does (input irrep, edge
    harmonic, output irrep), every irrep of multiplicity one. Message component :math:`q`
    belongs to path ``path_of[q]`` and is summed into output component ``out_of[q]``. All
    paths together form one sparse table :math:`C_{(j f), q} = \alpha_p C^p_{j f q}` over
    (input component, harmonic component) pairs: about 3,100 non-zeros for lmax 5, against
    :math:`36 \cdot 36 \cdot 487` entries of the dense table.
    """

    def __init__(self, irreps_in: o3.Irreps, irreps_out: o3.Irreps, config: ModelConfig):
        super().__init__()
        self.irreps_in, self.irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
        ins, outs = ([(ir.l, ir.p) for ir in _expanded(irreps)] for irreps in (self.irreps_in, self.irreps_out))
        edge = [(l, (-1) ** l) for l in range(config.lmax + 1)]
        paths = [(i, f, o) for i, (l1, p1) in enumerate(ins) for f, (l2, p2) in enumerate(edge)
                 for o, (l3, p3) in enumerate(outs) if abs(l1 - l2) <= l3 <= l1 + l2 and p1 * p2 == p3]
        if not paths:
            raise ValueError(f"No path connects {self.irreps_in} to {self.irreps_out}")
        into = collections.Counter(o for _, _, o in paths)
        in_at, edge_at, out_at = (np.cumsum([0] + [2 * l + 1 for l, _ in irreps]) for irreps in (ins, edge, outs))
        widths = np.array([2 * outs[o][0] + 1 for _, _, o in paths])
        q_at = np.cumsum(np.concatenate([[0], widths]))
        self.shape = (int(in_at[-1]), int(edge_at[-1]), int(q_at[-1]), int(out_at[-1]))  # D_in, D_edge, Q, D_out
        self.num_paths = len(paths)
        rows, columns, values = [], [], []
        for p, (i, f, o) in enumerate(paths):
            j, g, q, value = _nonzero_clebsch_gordan(ins[i][0], edge[f][0], outs[o][0])
            rows.append((in_at[i] + j) * edge_at[-1] + edge_at[f] + g)
            columns.append(q_at[p] + q)
            values.append(math.sqrt((2 * outs[o][0] + 1) / into[o]) * value)
        # exact float64 tables, kept out of .to(dtype) so that a float32 pass never rounds them
        self._coo = tuple(torch.as_tensor(np.concatenate(a)) for a in (rows, columns, values))
        self._tables: dict = {}
        self.register_buffer("path_of", torch.as_tensor(np.repeat(np.arange(len(paths)), widths)))
        self.register_buffer("out_of", torch.as_tensor(
            np.concatenate([np.arange(out_at[o], out_at[o + 1]) for _, _, o in paths])))

    def __getstate__(self) -> dict:
        """Copies leave the per-dtype tables behind: they are rebuilt on use (and CSR tensors cannot be copied)."""
        return {**self.__dict__, "_tables": {}}

    def sparse(self, dtype: torch.dtype, input_scale: tuple[float, ...] | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """The table :math:`C` as CSR matrices ``(D_in D_edge, Q)`` and its transpose, in ``dtype``;
        with ``input_scale``, row :math:`(j f)` is multiplied by ``input_scale[j]``."""
        key = ("sparse", dtype, input_scale)
        if key not in self._tables:
            rows, columns, values = self._coo
            d_in, d_edge, q, _ = self.shape
            if input_scale is not None:
                values = values * torch.tensor(input_scale, dtype=values.dtype)[rows // d_edge]
            coo = torch.sparse_coo_tensor(torch.stack([rows, columns]), values.to(dtype), (d_in * d_edge, q),
                                          check_invariants=True).coalesce()
            with warnings.catch_warnings():  # "sparse CSR support is in beta": used for products only
                warnings.simplefilter("ignore", UserWarning)
                self._tables[key] = (coo.to_sparse_csr(), coo.t().coalesce().to_sparse_csr())
        return self._tables[key]

    def gather(self, dtype: torch.dtype) -> torch.Tensor:
        """``(D_out, Q)``: 1 where message component :math:`q` is summed into an output component."""
        if ("gather", dtype) not in self._tables:
            gather = torch.zeros(self.shape[3], self.shape[2], dtype=dtype)
            gather[self.out_of, torch.arange(self.shape[2])] = 1.0
            self._tables["gather", dtype] = gather
        return self._tables["gather", dtype]

    def streamed(self, x: torch.Tensor, graph: Graph, radial) -> torch.Tensor:
        """The convolution of ``(N, D_in)`` features to ``(N, D_out)`` for graphs too large for a
        :class:`~engine.plan.Plan`: the same products, edges in chunks of :data:`EDGE_CHUNK`
        and nothing kept per edge; ``radial(lengths)`` gives a chunk's ``(E, paths)`` weights."""
        table_t, x_t = self.sparse(x.dtype)[1], x.T.contiguous()
        summed = torch.zeros(self.shape[2], graph.num_points, dtype=x.dtype)
        for start in range(0, graph.num_edges, EDGE_CHUNK):
            e = slice(start, start + EDGE_CHUNK)
            products = message_products(table_t, x_t.index_select(1, graph.source[e]),
                                        graph.harmonics[e].T.contiguous())
            weights = radial(graph.lengths[e]).T.index_select(0, self.path_of)
            summed.index_add_(1, graph.destination[e], products * weights)
        return (self.gather(x.dtype) @ summed).T / math.sqrt(graph.neighbours)


class Gate(torch.nn.Module):
    r"""e3nn's gate on ``0e + n×0e + gated``: :math:`[\,\phi(s),\; \sigma(g_k)\, v_k\,]`.

    :math:`\phi` is softplus (:math:`\beta=5`) and :math:`\sigma` the sigmoid, each scaled to
    unit second moment under a standard normal input.
    """

    def __init__(self, gated: o3.Irreps):
        super().__init__()
        gated = _expanded(o3.Irreps(gated))
        self.num_gates = len(gated)
        self.irreps_out = o3.Irreps("0e") + o3.Irreps(gated)
        self.irreps_in = o3.Irreps("0e") + o3.Irreps(f"{self.num_gates}x0e") + o3.Irreps(gated)
        widths = torch.tensor([ir.dim for ir in gated], dtype=torch.long)
        self.register_buffer("gate_of", torch.repeat_interleave(torch.arange(self.num_gates), widths))
        self.scalar_scale = SOFTPLUS_SCALE
        self.gate_scale = SIGMOID_SCALE
        self.output_scale = (SOFTPLUS_SCALE,) + (SIGMOID_SCALE,) * int(widths.sum())  # per output component

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scalars = softplus(x[:, :1]) * self.scalar_scale
        gates = torch.sigmoid(x[:, 1:1 + self.num_gates]) * self.gate_scale
        return torch.cat([scalars, x[:, 1 + self.num_gates:] * torch.index_select(gates, 1, self.gate_of)], dim=1)


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
        hidden = hidden_irreps(config.lmax)
        self.irreps_out = hidden if config.output == "signal" else o3.Irreps("1o")
        convolutions, gates = [], []
        features = self.irreps_in
        for _ in range(config.layers - 1):
            gates.append(Gate(hidden[1:]))
            convolutions.append(Convolution(features, gates[-1].irreps_in, config))
            features = hidden
        convolutions.append(Convolution(features, self.irreps_out, config))
        self.convolutions = torch.nn.ModuleList(convolutions)
        self.gates = torch.nn.ModuleList(gates)
        self.radial = RadialMLPs(config.number_of_basis, config.radial_neurons, config.radial_layers,
                                 [c.num_paths for c in convolutions], generator)
        with torch.no_grad():  # start near the zero signal, the scale of the targets
            self.radial.last[-1].mul_(OUTPUT_INIT_SCALE)

    def forward(self, features: torch.Tensor, graph: Graph) -> torch.Tensor:
        """``(N, dim irreps_in)`` features on the graph's points to ``(N, dim irreps_out)``.

        Graphs of up to :data:`MAX_PLANNED_EDGES` edges run through the graph's
        :class:`~engine.plan.Plan` (with its hand-derived gradient when one is wanted);
        larger graphs stream their edges.
        """
        if graph.num_edges > MAX_PLANNED_EDGES:
            return self._streamed(features, graph)
        plan = self.plan(graph)
        parameters = tuple(self.radial.parameters())
        if torch.is_grad_enabled() and (features.requires_grad or any(p.requires_grad for p in parameters)):
            return _Planned.apply(plan, self.radial.flat(), features, *parameters)
        return plan.forward(self.radial.unflatten(self.radial.flat()), features).contiguous()

    def plan(self, graph: Graph) -> Plan:
        """This network's :class:`~engine.plan.Plan` on ``graph``, built once per graph."""
        return graph.cached(self, lambda g: Plan(self, g))

    def _streamed(self, features: torch.Tensor, graph: Graph) -> torch.Tensor:
        table = RadialTable(self.radial, self.config, graph.lengths)
        x = features
        for k, convolution in enumerate(self.convolutions):
            x = convolution.streamed(x, graph, functools.partial(table, k))
            if k < len(self.gates):
                x = self.gates[k](x)
        return x


class _Planned(torch.autograd.Function):
    """:meth:`Plan.forward` as one autograd node whose backward is :meth:`Plan.backward`."""

    @staticmethod
    def forward(ctx, plan: Plan, theta: torch.Tensor, features: torch.Tensor, *parameters: torch.Tensor):
        ctx.plan, ctx.theta, ctx.tape = plan, theta, []
        return plan.forward(plan.radial.unflatten(theta), features, ctx.tape).contiguous()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad_theta = torch.zeros_like(ctx.theta)
        radial = ctx.plan.radial
        grad_features = ctx.plan.backward(radial.unflatten(ctx.theta), ctx.tape, grad, radial.unflatten(grad_theta),
                                          ctx.needs_input_grad[2])
        return (None, None, grad_features, *radial.unpadded(grad_theta))
