"""The planned executor as one autograd node, for callers that want torch's autograd."""

from __future__ import annotations

import torch

from .planned import Plan

__all__ = ["Planned"]


class Planned(torch.autograd.Function):
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
