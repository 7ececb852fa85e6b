r"""The structure of one point convolution: its paths as named data and their sparse table.

A path :math:`p = (l_1, l_f, l_o)` couples input irrep :math:`l_1` with edge harmonic
:math:`l_f` into output irrep :math:`l_o` with weight
:math:`\alpha_p = \sqrt{(2l_o+1) / \#\{\text{paths into } l_o\}}`, enumerated as e3nn's
``FullyConnectedTensorProduct`` does. The executors (:mod:`.planned`, :mod:`.streamed`) only
consume this structure; none of them builds its own.
"""

from __future__ import annotations

import collections
import math
import warnings
from typing import NamedTuple

import numpy as np
import torch
from e3nn import o3

from .clebsch_gordan import nonzero_clebsch_gordan

__all__ = ["Path", "paths", "Convolution", "expanded", "message_products"]


class Path(NamedTuple):
    """One path of a convolution: indices into the expanded input irreps, the edge harmonics
    ``0..lmax`` and the expanded output irreps, their degrees, and the weight :math:`\\alpha_p`."""

    input: int
    edge: int
    output: int
    l_in: int
    l_edge: int
    l_out: int
    weight: float


def expanded(irreps: o3.Irreps) -> list[o3.Irrep]:
    """Each irrep once per copy: ``2x0e+1o`` gives ``[0e, 0e, 1o]``."""
    return [ir for mul, ir in irreps for _ in range(mul)]


def paths(irreps_in: o3.Irreps, lmax: int, irreps_out: o3.Irreps) -> list[Path]:
    """Every path allowed by the triangle rule and parity, :math:`p_1 p_f = p_o`, in e3nn's order."""
    ins, outs = expanded(o3.Irreps(irreps_in)), expanded(o3.Irreps(irreps_out))
    edge = [o3.Irrep(l, (-1) ** l) for l in range(lmax + 1)]
    found = [(i, f, o) for i, a in enumerate(ins) for f, b in enumerate(edge) for o, c in enumerate(outs)
             if abs(a.l - b.l) <= c.l <= a.l + b.l and a.p * b.p == c.p]
    into = collections.Counter(o for _, _, o in found)
    return [Path(i, f, o, ins[i].l, edge[f].l, outs[o].l, math.sqrt((2 * outs[o].l + 1) / into[o]))
            for i, f, o in found]


class Convolution(torch.nn.Module):
    r"""The structure of one point convolution from ``irreps_in`` to ``irreps_out``.

    Message component :math:`q` belongs to path ``path_of[q]`` and is summed into output
    component ``out_of[q]``. All paths together form one sparse table
    :math:`C_{(j f), q} = \alpha_p C^p_{j f q}` over (input component, harmonic component)
    pairs: about 3,100 non-zeros for lmax 5, against :math:`36 \cdot 36 \cdot 487` entries of
    the dense table.
    """

    path_of: torch.Tensor
    out_of: torch.Tensor

    def __init__(self, irreps_in: o3.Irreps, irreps_out: o3.Irreps, lmax: int):
        super().__init__()
        self.irreps_in, self.irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
        self.paths = paths(self.irreps_in, lmax, self.irreps_out)
        if not self.paths:
            raise ValueError(f"No path connects {self.irreps_in} to {self.irreps_out}")
        in_at, edge_at, out_at = (np.cumsum([0] + [ir.dim for ir in irreps]) for irreps in
                                  (expanded(self.irreps_in), o3.Irreps.spherical_harmonics(lmax),
                                   expanded(self.irreps_out)))
        widths = np.array([2 * p.l_out + 1 for p in self.paths])
        q_at = np.cumsum(np.concatenate([[0], widths]))
        self.shape = (int(in_at[-1]), int(edge_at[-1]), int(q_at[-1]), int(out_at[-1]))  # D_in, D_edge, Q, D_out
        self.num_paths = len(self.paths)
        rows, columns, values = [], [], []
        for k, p in enumerate(self.paths):
            j, g, q, value = nonzero_clebsch_gordan(p.l_in, p.l_edge, p.l_out)
            rows.append((in_at[p.input] + j) * edge_at[-1] + edge_at[p.edge] + g)
            columns.append(q_at[k] + q)
            values.append(p.weight * value)
        # exact float64 tables, kept out of .to(dtype) so that a float32 pass never rounds them
        self._coo = tuple(torch.as_tensor(np.concatenate(a)) for a in (rows, columns, values))
        self._tables: dict = {}
        self.register_buffer("path_of", torch.as_tensor(np.repeat(np.arange(len(self.paths)), widths)))
        self.register_buffer("out_of", torch.as_tensor(
            np.concatenate([np.arange(out_at[p.output], out_at[p.output + 1]) for p in self.paths])))

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


def message_products(table_t: torch.Tensor, x_source: torch.Tensor, harmonics: torch.Tensor) -> torch.Tensor:
    """:math:`P = C^\\top (x_{s(e)} \\otimes Y_e)`, ``(Q, E)``, from the transposed sparse table
    ``(Q, D_in D_edge)``, the ``(D_in, E)`` source features and the ``(D_edge, E)`` harmonics."""
    outer = x_source[:, None, :] * harmonics[None]
    return torch.sparse.mm(table_t, outer.reshape(-1, x_source.shape[1]))
