r"""The seed's activations, :math:`\phi(x) = \log(1 + e^{\beta x}) / \beta` with :math:`\beta = 5`
and the sigmoid :math:`\sigma`, with their derivatives and e3nn's normalisation constants."""

from __future__ import annotations

import torch

from .. import _torch_private

__all__ = ["SOFTPLUS_SCALE", "SIGMOID_SCALE", "softplus", "softplus_backward", "sigmoid_backward"]

BETA, THRESHOLD = 5.0, 20.0  # linear above beta x = 20, as torch's softplus

# e3nn's normalize2mom constants c = <f(z)^2>^(-1/2), z ~ N(0, 1), as it estimates them (10^6
# seeded samples, which take 60 ms per activation); a test checks them against e3nn
SOFTPLUS_SCALE = 1.4064348835548617
SIGMOID_SCALE = 1.8467055342154763


def softplus(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.softplus(x, beta=BETA, threshold=THRESHOLD)


def softplus_backward(grad: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r""":math:`\phi'(x)\, g = \sigma(\beta x)\, g`, exactly as autograd computes it."""
    return _torch_private.softplus_backward(grad, x, BETA, THRESHOLD)


def sigmoid_backward(grad: torch.Tensor, sigmoid: torch.Tensor) -> torch.Tensor:
    r""":math:`\sigma'\, g = \sigma (1 - \sigma)\, g` from the sigmoid's value."""
    return _torch_private.sigmoid_backward(grad, sigmoid)
