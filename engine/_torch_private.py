"""The torch internals the engine relies on, each wrapped once here.

They have no public equivalent that is as fast at this size, so ``tests/test_torch_private.py``
checks each against the public path it stands for: on a torch where one changed, that test
fails by name rather than the network drifting.

- ``torch.ops.aten.softplus_backward`` / ``sigmoid_backward``: autograd's own derivative
  kernels, for the hand-derived gradient (bitwise what autograd computes).
- ``torch.optim.adam.adam(..., fused=True)``: Adam as a function on flat tensors, without
  ``Optimizer.step``'s bookkeeping (which costs more than the update here).
- ``Tensor._version``: the in-place modification counter, to keep a product cache valid.
"""

from __future__ import annotations

import torch
from torch.optim.adam import adam

__all__ = ["softplus_backward", "sigmoid_backward", "fused_adam", "version"]


def softplus_backward(grad: torch.Tensor, x: torch.Tensor, beta: float, threshold: float) -> torch.Tensor:
    r""":math:`g\, \sigma(\beta x)` (:math:`g` above the threshold), as autograd computes softplus's derivative."""
    return torch.ops.aten.softplus_backward(grad, x, beta, threshold)


def sigmoid_backward(grad: torch.Tensor, sigmoid: torch.Tensor) -> torch.Tensor:
    r""":math:`g\, \sigma (1 - \sigma)` from the sigmoid's value, as autograd computes it."""
    return torch.ops.aten.sigmoid_backward(grad, sigmoid)


def fused_adam(theta: torch.Tensor, grad: torch.Tensor, first: torch.Tensor, second: torch.Tensor,
               step: torch.Tensor, *, lr: float) -> None:
    """One Adam step on ``theta`` in place (betas 0.9, 0.999, eps 1e-8, no weight decay), with
    its moments ``first``, ``second`` and the step count ``step`` updated in place."""
    adam([theta], [grad], [first], [second], [], [step], fused=True, amsgrad=False, beta1=0.9, beta2=0.999,
         lr=lr, weight_decay=0.0, eps=1e-8, maximize=False)


def version(tensor: torch.Tensor) -> int:
    """How many times ``tensor`` was modified in place."""
    return tensor._version
