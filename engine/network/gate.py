r"""e3nn's gate, defined once: :math:`[\,c_\phi\, \phi(s),\; c_\sigma\, \sigma(g_k)\, v_k\,]` on
``0e + n×0e + gated``, with :math:`\phi` softplus (:math:`\beta = 5`), :math:`\sigma` the sigmoid
and :math:`c_\phi, c_\sigma` the constants that give each unit second moment under a standard
normal input. The planned executor folds the constants into the next convolution's table and
runs :meth:`Gate.unscaled` with its hand-derived :meth:`Gate.backward`; the streamed one calls
the module."""

from __future__ import annotations

import torch
from e3nn import o3

from .activations import SIGMOID_SCALE, SOFTPLUS_SCALE, sigmoid_backward, softplus, softplus_backward
from .structure import expanded

__all__ = ["Gate"]


class Gate(torch.nn.Module):
    """The gate on ``0e + n×0e + gated``, ``gated`` being ``n`` irreps (``irreps_in`` to ``irreps_out``)."""

    gate_of: torch.Tensor

    def __init__(self, gated: o3.Irreps):
        super().__init__()
        irreps = expanded(o3.Irreps(gated))
        self.num_gates = len(irreps)
        self.irreps_out = o3.Irreps("0e") + o3.Irreps(irreps)
        self.irreps_in = o3.Irreps("0e") + o3.Irreps(f"{self.num_gates}x0e") + o3.Irreps(irreps)
        widths = torch.tensor([ir.dim for ir in irreps], dtype=torch.long)
        self.register_buffer("gate_of", torch.repeat_interleave(torch.arange(self.num_gates), widths))
        self.output_scale = (SOFTPLUS_SCALE,) + (SIGMOID_SCALE,) * int(widths.sum())  # per output component

    def unscaled(self, x: torch.Tensor, tape: list | None = None) -> torch.Tensor:
        """Feature-major ``(D_in, N)`` to ``(D_out, N)``: :math:`[\\phi(s), \\sigma(g_k) v_k]`
        without the constants; with a ``tape``, what :meth:`backward` needs is pushed on it."""
        scalars, gated = x[:1], x[1 + self.num_gates:]
        sigmoids = torch.sigmoid(x[1:1 + self.num_gates])
        factors = sigmoids.index_select(0, self.gate_of)
        if tape is not None:
            tape.append((scalars, sigmoids, factors, gated))
        return torch.cat([softplus(scalars), gated * factors])

    def backward(self, grad: torch.Tensor, tape: list) -> torch.Tensor:
        """The gradient with respect to :meth:`unscaled`'s input from its output's ``(D_out, N)``:
        :math:`[\\phi'(s) g_s,\\; \\sigma'(g_k) \\langle g_v, v \\rangle_k,\\; \\sigma(g_k) g_v]`."""
        scalars, sigmoids, factors, gated = tape.pop()
        grad_gated = grad[1:]
        grad_sigmoids = torch.zeros_like(sigmoids).index_add_(0, self.gate_of, grad_gated * gated)
        return torch.cat([softplus_backward(grad[:1], scalars), sigmoid_backward(grad_sigmoids, sigmoids),
                          grad_gated * factors])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, D_in)`` to ``(N, D_out)``, constants included."""
        scale = torch.tensor(self.output_scale, dtype=x.dtype)
        return self.unscaled(x.T).T * scale
