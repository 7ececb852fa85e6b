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

Speed comes from doing geometry-only work once per training: the per-edge kernels
:math:`A_{e,i,q} = \sum_f \alpha_p C^p_{i f q} Y_f(\hat r_e)` are built once, so each step is one
batched product with the node features; each path fills only its own block of :math:`q`.
For graphs too large to hold :math:`A`, messages are streamed in chunks of edges instead,
path by path, with the radial weights interpolated from a table of edge lengths.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from e3nn import o3

from .geometry import Geometry, radial_basis

__all__ = ["ModelConfig", "Network", "hidden_irreps"]

MAX_PRECOMPUTED_EDGES = 3000  # per-edge kernels of ~17,500 numbers each (lmax 5); larger graphs stream
EDGE_CHUNK = 32_768
RADIAL_TABLE_SIZE = 4096
OUTPUT_INIT_SCALE = 0.1  # last layer's initial weights; at 1.0 the seed's Task 1 misses in half the seeds


@dataclass(frozen=True)
class ModelConfig:
    """Network settings; the defaults are the seed's.

    Attributes
    ----------
    lmax : highest degree of features, edge harmonics and output signals
    layers : convolutions (all but the last followed by a gate)
    max_radius, number_of_basis : radial basis on ``[0, max_radius]``
    radial_neurons, radial_layers : hidden width and depth of each radial MLP
    radius : graph radius; ``None`` convolves over all pairs, each point with itself included
    output : {'signal', 'vector'} a signal with ``l = 0..lmax`` per point, or one ``1o`` vector
    """

    lmax: int = 5
    layers: int = 3
    max_radius: float = 3.0
    number_of_basis: int = 3
    radial_neurons: int = 100
    radial_layers: int = 3
    radius: float | None = None
    output: str = "signal"

    def __post_init__(self):
        if not 1 <= self.lmax <= 8:
            raise ValueError(f"lmax must be in 1..8, got {self.lmax}")
        if self.layers < 1:
            raise ValueError(f"layers must be at least 1, got {self.layers}")
        if self.output not in ("signal", "vector"):
            raise ValueError(f"output must be 'signal' or 'vector', got {self.output!r}")
        if self.radius is not None and not self.radius > 0:
            raise ValueError(f"radius must be positive or None, got {self.radius}")
        if self.number_of_basis < 2 or self.radial_neurons < 1 or self.radial_layers < 0:
            raise ValueError("number_of_basis must be at least 2 and the radial MLP non-empty")

    def to_dict(self) -> dict:
        return asdict(self)

    def geometry(self, positions, dtype=torch.float64) -> Geometry:
        """The precomputed graph this network convolves over."""
        return Geometry(positions, lmax=self.lmax, max_radius=self.max_radius,
                        number_of_basis=self.number_of_basis, radius=self.radius, dtype=dtype)


def hidden_irreps(lmax: int) -> o3.Irreps:
    """The seed's features: one copy of each degree, parity :math:`(-1)^l`: ``0e+1o+2e+...``."""
    return o3.Irreps([(1, (l, (-1) ** l)) for l in range(lmax + 1)])


def _softplus(x):
    return torch.nn.functional.softplus(x, beta=5.0)


# e3nn's normalize2mom constants c = <f(z)^2>^(-1/2), z ~ N(0, 1), as it estimates them (10^6
# seeded samples, which take 60 ms per activation); a test checks them against e3nn
SOFTPLUS_SCALE = 1.4064348835548617  # softplus with beta = 5
SIGMOID_SCALE = 1.8467055342154763


class RadialMLPs(torch.nn.Module):
    r"""Path weights of every convolution from the radial basis, all layers in one batch.

    Convolution :math:`k` has its own MLP :math:`h_{j+1} = \phi(h_j W^{(k)}_j / \sqrt{d_j})`
    (no activation after the last layer), parametrised as ``e3nn.nn.FullyConnectedNet`` with a
    second-moment-normalised softplus (:math:`\beta = 5`). All MLPs read the same edge
    embedding, so their hidden layers are stacked and evaluated as batched products.
    """

    def __init__(self, number_of_basis: int, neurons: int, layers: int, paths: list[int]):
        super().__init__()
        sizes = [number_of_basis] + [neurons] * layers
        k = len(paths)
        self.hidden = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.randn(k, a, b, dtype=torch.float64)) for a, b in zip(sizes, sizes[1:])])
        self.last = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.randn(sizes[-1], p, dtype=torch.float64)) for p in paths])
        c = SOFTPLUS_SCALE
        self.scales = [1.0 / math.sqrt(sizes[0])] + [c / math.sqrt(h) for h in sizes[1:]]

    def forward(self, embedding: torch.Tensor) -> list[torch.Tensor]:
        """``(E, number_of_basis)`` to one ``(E, paths_k)`` tensor per convolution."""
        h = embedding
        for weight, scale in zip(self.hidden, self.scales):
            h = _softplus(torch.matmul(h, weight * scale))
        h = h.expand(len(self.last), *h.shape[-2:])
        scale = self.scales[len(self.hidden)]
        return [h[k] @ (weight * scale) for k, weight in enumerate(self.last)]

    def single(self, k: int, embedding: torch.Tensor) -> torch.Tensor:
        """The weights of convolution ``k`` alone: ``(E, paths_k)``."""
        h = embedding
        for weight, scale in zip(self.hidden, self.scales):
            h = _softplus(h @ (weight[k] * scale))
        return h @ (self.last[k] * self.scales[len(self.hidden)])


class RadialTable:
    r"""The radial weights of convolution ``k`` tabulated on :data:`RADIAL_TABLE_SIZE` lengths
    from 0 to the longest edge and interpolated linearly: for graphs with more edges than
    that, the MLP is run once per table entry instead of once per edge. The interpolation
    error is :math:`\le h^2 \max|R''| / 8` for spacing :math:`h` (below float32 resolution for
    the seed's basis)."""

    def __init__(self, mlps: RadialMLPs, k: int, config: ModelConfig, lengths: torch.Tensor):
        self.step = max(float(lengths.max()), 1e-12) / (RADIAL_TABLE_SIZE - 1)
        grid = torch.arange(RADIAL_TABLE_SIZE, dtype=lengths.dtype) * self.step
        self.values = mlps.single(k, radial_basis(grid, config.max_radius, config.number_of_basis))

    def __call__(self, lengths: torch.Tensor) -> torch.Tensor:
        t = lengths / self.step
        i = t.floor().long().clamp(0, RADIAL_TABLE_SIZE - 2)
        return torch.lerp(self.values[i], self.values[i + 1], (t - i)[:, None])


@functools.lru_cache(maxsize=None)
def clebsch_gordan(l1: int, l2: int, l3: int) -> torch.Tensor:
    r"""Real Clebsch–Gordan coefficients, float64 ``(2l_1+1, 2l_2+1, 2l_3+1)``: e3nn's ``wigner_3j``.

    The complex coefficients come from Racah's formula in floating point,

    .. math::
        \langle l_1 m_1 l_2 m_2 | l_3 m_3 \rangle \propto \sum_k \frac{(-1)^k}{k!\,(l_1+l_2-l_3-k)!\,
        (l_1-m_1-k)!\,(l_2+m_2-k)!\,(l_3-l_2+m_1+k)!\,(l_3-l_1-m_2+k)!},

    then move to e3nn's real basis and are normalised to :math:`\sum C^2 = 1`. Same numbers as
    ``e3nn.o3.wigner_3j`` to rounding, without its exact rational arithmetic (0.1 s per process).
    """
    factorial = np.array([math.factorial(k) for k in range(2 * (l1 + l2 + l3) + 2)], dtype=np.float64)
    m1, m2 = np.meshgrid(np.arange(-l1, l1 + 1), np.arange(-l2, l2 + 1), indexing="ij")
    m3 = m1 + m2
    total = np.zeros(m1.shape)
    for k in range(l1 + l2 - l3 + 1):
        args = np.stack([np.full(m1.shape, k), np.full(m1.shape, l1 + l2 - l3 - k), l1 - m1 - k, l2 + m2 - k,
                         l3 - l2 + m1 + k, l3 - l1 - m2 + k])
        valid = (args >= 0).all(0)
        total += np.where(valid, (-1.0) ** k / factorial[np.where(valid, args, 0)].prod(0), 0.0)
    inside = np.abs(m3) <= l3
    m3c = np.where(inside, m3, 0)
    root = np.sqrt(factorial[l3 + m3c] * factorial[l3 - m3c] * factorial[l1 - m1] * factorial[l1 + m1]
                   * factorial[l2 - m2] * factorial[l2 + m2])
    complex_cg = np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1))
    i, j = np.nonzero(inside)
    complex_cg[i, j, m3[i, j] + l3] = (root * total)[i, j]
    q1, q2, q3 = (_real_to_complex(l) for l in (l1, l2, l3))
    real = np.einsum("ij,kl,mn,ikn->jlm", q1, q2, q3.T.conj(), complex_cg, optimize=True).real
    return torch.as_tensor(real / np.linalg.norm(real))


@functools.lru_cache(maxsize=None)
def _real_to_complex(l: int) -> np.ndarray:
    return o3.change_basis_real_to_complex(l, dtype=torch.float64).numpy()


def _expanded(irreps: o3.Irreps) -> list[o3.Irrep]:
    return [ir for mul, ir in irreps for _ in range(mul)]


def _offsets(irreps: list[o3.Irrep]) -> list[int]:
    out = [0]
    for ir in irreps:
        out.append(out[-1] + ir.dim)
    return out


class Convolution(torch.nn.Module):
    """One point convolution from ``irreps_in`` to ``irreps_out`` over a :class:`Geometry`.

    Layout: the paths are enumerated as e3nn's ``FullyConnectedTensorProduct`` does
    (input irrep, edge harmonic, output irrep), every irrep of multiplicity one. Message
    component :math:`q` belongs to path ``path_of[q]``; ``gather`` sums components into outputs.
    """

    def __init__(self, irreps_in: o3.Irreps, irreps_out: o3.Irreps, config: ModelConfig):
        super().__init__()
        self.irreps_in, self.irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
        ins, outs = _expanded(self.irreps_in), _expanded(self.irreps_out)
        edge = [o3.Irrep(l, (-1) ** l) for l in range(config.lmax + 1)]
        paths = [(i, f, o) for i, a in enumerate(ins) for f, b in enumerate(edge)
                 for o, c in enumerate(outs) if c in a * b]
        if not paths:
            raise ValueError(f"No path connects {self.irreps_in} to {self.irreps_out}")
        into = [sum(p[2] == o for p in paths) for o in range(len(outs))]
        in_at, edge_at, out_at = _offsets(ins), _offsets(edge), _offsets(outs)

        widths = [outs[o].dim for _, _, o in paths]
        q_at = _offsets([outs[o] for _, _, o in paths])
        cg = torch.zeros(in_at[-1], edge_at[-1], q_at[-1], dtype=torch.float64)
        gather = torch.zeros(q_at[-1], out_at[-1], dtype=torch.float64)
        for p, (i, f, o) in enumerate(paths):
            alpha = math.sqrt(outs[o].dim / into[o])
            q = slice(q_at[p], q_at[p + 1])
            cg[in_at[i]:in_at[i + 1], edge_at[f]:edge_at[f + 1], q] = alpha * clebsch_gordan(
                ins[i].l, edge[f].l, outs[o].l)
            gather[q, out_at[o]:out_at[o + 1]] = torch.eye(outs[o].dim, dtype=torch.float64)
        # exact float64 tables, kept out of .to(dtype) so that a float32 pass never rounds them
        self.tables: dict = {torch.float64: (cg, gather)}
        self.register_buffer("path_of", torch.repeat_interleave(torch.arange(len(paths)), torch.tensor(widths)))
        # paths grouped by (input irrep, edge harmonic), which share one outer product when streaming
        runs: dict[tuple[int, int], list] = {}
        for p, (i, f, o) in enumerate(paths):
            runs.setdefault((i, f), []).append((p, slice(q_at[p], q_at[p + 1]), slice(out_at[o], out_at[o + 1])))
        self.blocks = [(slice(in_at[i], in_at[i + 1]), slice(edge_at[f], edge_at[f + 1]), members)
                       for (i, f), members in runs.items()]
        self.num_paths = len(paths)

    def _tables(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Clebsch–Gordan table ``(D_in, D_edge, Q)`` and ``gather`` ``(Q, D_out)`` in ``dtype``."""
        if dtype not in self.tables:
            self.tables[dtype] = tuple(t.to(dtype) for t in self.tables[torch.float64])
        return self.tables[dtype]

    def _kernel(self, geometry: Geometry) -> torch.Tensor:
        r""":math:`A_{e,i,q} = \sum_f Y_{e,f}\, C_{i,f,q} / \sqrt{n}`, shape ``(E, D_in, Q)``."""
        cg = self._tables(geometry.harmonics.dtype)[0] / math.sqrt(geometry.neighbours)
        d_in, d_edge, q = cg.shape
        flat = geometry.harmonics @ cg.transpose(0, 1).reshape(d_edge, d_in * q)
        return flat.reshape(-1, d_in, q)

    def forward(self, x: torch.Tensor, geometry: Geometry, weights: torch.Tensor) -> torch.Tensor:
        """``(N, D_in)`` features to ``(N, D_out)``, with ``(E, paths)`` radial weights.

        Uses the geometry's cached per-edge kernels: for graphs of up to
        :data:`MAX_PRECOMPUTED_EDGES` edges.
        """
        n = geometry.num_points
        gather = self._tables(x.dtype)[1]
        kernel = geometry.kernel(self, self._kernel)
        x_source = torch.index_select(x, 0, geometry.source)
        messages = torch.bmm(x_source.unsqueeze(1), kernel).squeeze(1) * torch.index_select(weights, 1, self.path_of)
        if geometry.all_pairs:
            summed = messages.view(n, n, -1).sum(1)
        else:
            summed = torch.zeros(n, messages.shape[1], dtype=x.dtype).index_add(0, geometry.destination, messages)
        return summed @ gather

    def _blocks(self, dtype: torch.dtype) -> list:
        """Per (input irrep, edge harmonic): its rows and columns, and per path from it the
        ``(a b, 2 l_o + 1)`` table, the path index and the output slice."""
        key = ("blocks", dtype)
        if key not in self.tables:
            cg, _ = self._tables(dtype)
            self.tables[key] = [(rows, cols, [(cg[rows, cols, q].flatten(0, 1).contiguous(), p, out)
                                              for p, q, out in paths]) for rows, cols, paths in self.blocks]
        return self.tables[key]

    def streamed(self, x: torch.Tensor, geometry: Geometry, radial) -> torch.Tensor:
        """Same as :meth:`forward` for large graphs: edges in chunks, path by path, with no
        per-edge kernel kept; ``radial(lengths)`` gives a chunk's weights."""
        blocks = self._blocks(x.dtype)
        summed = torch.zeros(geometry.num_points, self.irreps_out.dim, dtype=x.dtype)
        for start in range(0, geometry.num_edges, EDGE_CHUNK):
            e = slice(start, start + EDGE_CHUNK)
            x_source, harmonics = x[geometry.source[e]], geometry.harmonics[e]
            weights = radial(geometry.lengths[e])
            messages = torch.zeros(len(x_source), self.irreps_out.dim, dtype=x.dtype)
            for rows, cols, paths in blocks:
                outer = (x_source[:, rows, None] * harmonics[:, None, cols]).flatten(1)
                for table, p, out in paths:
                    messages[:, out].addcmul_(outer @ table, weights[:, p:p + 1])
            summed.index_add_(0, geometry.destination[e], messages)
        return summed / math.sqrt(geometry.neighbours)


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scalars = _softplus(x[:, :1]) * self.scalar_scale
        gates = torch.sigmoid(x[:, 1:1 + self.num_gates]) * self.gate_scale
        return torch.cat([scalars, x[:, 1 + self.num_gates:] * torch.index_select(gates, 1, self.gate_of)], dim=1)


class Network(torch.nn.Module):
    """The seed's network: ``layers - 1`` gated convolutions, then a plain one.

    Parameters
    ----------
    config : :class:`ModelConfig`
    irreps_in : per-point input features, e.g. ``"0e"`` or ``"0e+2e"`` with an order parameter

    >>> net = Network(ModelConfig(lmax=2, layers=2), "0e")
    >>> geometry = net.config.geometry(torch.randn(4, 3).numpy())
    >>> net(torch.ones(4, 1, dtype=torch.float64), geometry).shape
    torch.Size([4, 9])
    """

    def __init__(self, config: ModelConfig, irreps_in: str = "0e"):
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
                                 [c.num_paths for c in convolutions])
        with torch.no_grad():  # start near the zero signal, the scale of the targets
            self.radial.last[-1].mul_(OUTPUT_INIT_SCALE)

    def forward(self, features: torch.Tensor, geometry: Geometry) -> torch.Tensor:
        """``(N, dim irreps_in)`` features on the geometry's points to ``(N, dim irreps_out)``."""
        streamed = geometry.num_edges > MAX_PRECOMPUTED_EDGES
        weights = None if streamed else self.radial(geometry.embedding)
        x = features
        for k, convolution in enumerate(self.convolutions):
            if streamed:
                x = convolution.streamed(x, geometry, RadialTable(self.radial, k, self.config, geometry.lengths))
            else:
                x = convolution(x, geometry, weights[k])
            if k < len(self.gates):
                x = self.gates[k](x)
        return x
