"""Each torch internal the engine uses (``engine._torch_private``) still does what its public
counterpart does: on a torch where one changed, the test that fails names it."""

import torch

from engine import _torch_private


def test_softplus_backward_is_autograd():
    x = torch.linspace(-6.0, 6.0, 101, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(101, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.nn.functional.softplus(x, beta=5.0, threshold=20.0).backward(grad)
    assert torch.equal(_torch_private.softplus_backward(grad, x.detach(), 5.0, 20.0), x.grad)


def test_sigmoid_backward_is_autograd():
    x = torch.linspace(-6.0, 6.0, 101, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(101, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.sigmoid(x)
    y.backward(grad)
    assert torch.equal(_torch_private.sigmoid_backward(grad, y.detach()), x.grad)


def test_fused_adam_is_torch_adam():
    """Three steps of the functional fused Adam equal torch.optim.Adam's."""
    generator = torch.Generator().manual_seed(2)
    start = torch.randn(50, generator=generator)
    grads = [torch.randn(50, generator=generator) for _ in range(3)]
    theta, first, second, step = start.clone(), torch.zeros(50), torch.zeros(50), torch.zeros(())
    parameter = torch.nn.Parameter(start.clone())
    optimiser = torch.optim.Adam([parameter], lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    for grad in grads:
        _torch_private.fused_adam(theta, grad.clone(), first, second, step, lr=1e-2)
        parameter.grad = grad.clone()
        optimiser.step()
    assert float(step) == 3.0
    torch.testing.assert_close(theta, parameter.detach(), rtol=1e-6, atol=1e-7)


def test_version_counts_in_place_changes():
    tensor = torch.zeros(3)
    before = _torch_private.version(tensor)
    tensor.add_(1.0)
    assert _torch_private.version(tensor) == before + 1
    tensor + 1.0  # an out-of-place operation leaves it
    assert _torch_private.version(tensor) == before + 1
