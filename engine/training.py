r"""Training: the optimisation loops that fit the network, and learn an order parameter with it.

The loss is the seed's mean squared error between the output and the target signals
:math:`c_i = \mathrm{encode}(\vec d_i / u)` of the displacements
:math:`\vec d_i = \vec x^{\,\mathrm{target}}_i - \vec x^{\,\mathrm{start}}_i` in units of the largest,
:math:`u = \max_i |\vec d_i|` (or the vectors :math:`\vec d_i / u` themselves with ``output='vector'``),
minimised with Adam. With the radial basis tied to the graph
(:meth:`~engine.config.ModelConfig.in_units_of`) the same task trains the same at any scale.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from . import heap, signals, threads
from ._torch_private import fused_adam
from .config import ModelConfig
from .errors import Cancelled, Diverged
from .features import Features
from .graph import Graph
from .network import Network, hidden_irreps
from .order_parameter import OrderParameter
from .prediction import checked_features, decoded
from .results import Learned, Prediction
from .schedule import Schedule, budget

__all__ = ["Trained", "train", "learn_order_parameter", "learned_description"]

Progress = Callable[[int, float], None]
Cancel = Callable[[], bool]


@dataclass(frozen=True)
class Trained:
    """A trained network (float64), the features it was trained with and how training went."""

    prediction: Prediction
    model: Network
    features: Features
    loss_history: np.ndarray
    final_loss: float
    seconds: float


def _targets(config: ModelConfig, displacements: np.ndarray) -> np.ndarray:
    """What the network fits: the displacements in units of ``config.unit``, encoded as signals."""
    d = displacements / config.unit
    return signals.encode(d, config.lmax) if config.output == "signal" else d


def _optimise(model: Network, graph: Graph, x: torch.Tensor, goal: torch.Tensor, schedule: Schedule,
              progress: Progress | None, cancel: Cancel | None) -> list[float]:
    r"""Adam on :math:`\mathrm{mean}(\mathrm{model}(x) - \mathrm{goal})^2` with the gradient of :meth:`Network.trainer`'s executor,
    all weights as one flat vector, as ``schedule`` says; returns the loss of each step. ``x`` has
    a row for every point of the graph (:meth:`Graph.padded`), ``goal`` one for every vertex.

    The update is torch's fused Adam called as a function: ``Optimizer.step``'s bookkeeping
    takes longer than the update itself at this size."""
    plan = model.trainer(graph)
    theta = model.radial.flat()
    grad, first, second, step = torch.zeros_like(theta), torch.zeros_like(theta), torch.zeros_like(theta), torch.zeros(())
    weights, grads = model.radial.unflatten(theta), model.radial.unflatten(grad)
    still = float(goal.double().pow(2).mean())
    history: list[float] = []
    for iteration in range(schedule.iterations):
        if cancel is not None and cancel():
            raise Cancelled(f"Training cancelled at iteration {iteration}")
        value = plan.loss_and_gradient(weights, x, goal, grads).item()  # fills grad
        if not math.isfinite(value) or (history and value > 1e3 * max(history[0], 1e-12)):
            raise Diverged(f"Training diverged at iteration {iteration} (loss {value:g}); lower the learning rate")
        history.append(value)
        fused_adam(theta, grad, first, second, step, lr=schedule.rate(iteration))
        if progress is not None:
            progress(iteration, value)
        if schedule.done(history, still):
            break
    model.radial.load_flat(theta)
    return history


def train(start, target, *, config: ModelConfig | None = None, features: Features | None = None,
          schedule: Schedule | None = None, seed: int = 0, progress: Progress | None = None,
          cancel: Cancel | None = None, dtype: torch.dtype = torch.float32) -> Trained:
    """Train the network to move ``start`` onto ``target``, the seed's way.

    Parameters
    ----------
    start, target : ``(N, 3)`` float64 arrays, checked by the caller
        (:func:`engine.validation.check_problem`, which :func:`engine.api.train` runs)
    config : network settings (the seed's by default)
    features : per-point inputs (one scalar 1 per point by default)
    schedule : steps, learning rate and stopping rule (by default :class:`Schedule` of
        :func:`budget` steps)
    seed : seeds the weight initialisation; the same seed gives the same result
    progress : called as ``progress(iteration, loss)`` after every step
    cancel : checked before every step; when it returns true, :class:`~engine.errors.Cancelled` is raised
    dtype : float32 trains about twice as fast as float64 (the model is kept in float64 after)

    Raises
    ------
    :class:`~engine.errors.Diverged` when the loss is not finite or grows a thousandfold;
    ``ValueError`` for features of another number of points.
    """
    began = time.perf_counter()
    config = (config or ModelConfig()).in_units_of(start, target - start)
    features = checked_features(features, len(start))

    graph = Graph.of(config, start, dtype=dtype)
    with threads.single_thread(), heap.kept():
        model = Network(config, features.irreps, generator=torch.Generator().manual_seed(seed)).to(dtype)
        x = graph.padded(torch.as_tensor(features.values, dtype=dtype))
        goal = torch.as_tensor(_targets(config, target - start), dtype=dtype)
        history = _optimise(model, graph, x, goal, schedule or Schedule(budget(graph.num_edges)), progress, cancel)
        with torch.no_grad():  # the executor that trained, on any size of graph
            output = model.trainer(graph).forward(model.radial.unflatten(model.radial.flat()), x)
        output = graph.vertices(output).double()
    model.double()
    seconds = time.perf_counter() - began
    final_loss = float((output - goal.double()).pow(2).mean())
    return Trained(decoded(config, start, output.numpy()), model, features, np.array(history), final_loss, seconds)


def learned_description(order_parameter: OrderParameter) -> str:
    """"learned: L=2 carries 98.9% of the norm (L=1 0.3%, ...)"."""
    shares = order_parameter.shares()
    top = max(shares, key=shares.__getitem__)
    others = ", ".join(f"L={l} {share:.1f}%" for l, share in shares.items() if l != top)
    return f"learned: L={top} carries {shares[top]:.1f}% of the norm" + (f" ({others})" if others else "")


def learn_order_parameter(start, target, *, config: ModelConfig | None = None, scalars: Features | None = None,
                          iterations: int = 300, lr: float = 1e-2, penalty: float = 1e-3, seed: int = 0,
                          progress: Progress | None = None, cancel: Cancel | None = None,
                          per_point: bool = False, dtype: torch.dtype = torch.float32) -> Learned:
    r"""Find the symmetry-breaking input by gradient descent (Smidt, Geiger and Miller 2021).

    A global feature :math:`c = (c_l)_{1 \le l \le L}` is given to every point next to the
    scalar 1, or to the type ``scalars`` (:meth:`Features.of_types`) when given (with
    ``per_point``, each point has its own :math:`c_i`). Steps alternate between
    the network and :math:`c` (Adam at ``lr``), :math:`c` minimising the loss plus
    :math:`\lambda_t \sum |c|`, so that only the degrees the target needs survive.
    :math:`\lambda_t` ramps up from 0 to ``penalty`` over the first half, which lets the
    network start using :math:`c` before the penalty prunes it. The result is returned
    normalised, :math:`|c| = 1`: the network sets the scale. ``start``, ``target``,
    ``progress`` and ``cancel`` are as in :func:`train`.
    """
    config = (config or ModelConfig()).in_units_of(start, target - start)
    scalars = checked_features(scalars, len(start))
    irreps = hidden_irreps(config.lmax)
    graph = Graph.of(config, start, dtype=dtype)
    goal = torch.as_tensor(_targets(config, target - start), dtype=dtype)
    generator = torch.Generator().manual_seed(seed)
    with threads.single_thread(), heap.kept():
        model = Network(config, f"{scalars.irreps}+{irreps[1:]}", generator=generator).to(dtype)
        shape = (len(start), irreps.dim - 1) if per_point else (irreps.dim - 1,)
        feature = torch.nn.Parameter(0.1 * torch.randn(shape, dtype=dtype, generator=generator))
        fixed = torch.as_tensor(scalars.values, dtype=dtype)

        def loss():
            x = torch.cat([fixed, feature.expand(len(start), -1)], dim=1)
            return torch.nn.functional.mse_loss(model(x, graph), goal)

        network_step = torch.optim.Adam(model.parameters(), lr=lr)
        feature_step = torch.optim.Adam([feature], lr=lr)
        # Adam moves every component by about lr per step, so the L1 term makes unneeded degrees
        # jitter around zero with that amplitude: the feature's learning rate decays to zero
        anneal = torch.optim.lr_scheduler.LambdaLR(feature_step, lambda step: 1.0 - step / iterations)
        history = []
        for iteration in range(iterations):
            if cancel is not None and cancel():
                raise Cancelled(f"Learning cancelled at iteration {iteration}")
            fit = loss()
            history.append(fit.item())
            network_step.zero_grad(set_to_none=True)
            fit.backward()
            network_step.step()
            ramp = min(1.0, 2.0 * iteration / iterations)
            regularised = loss() + penalty * ramp * feature.abs().sum()
            feature_step.zero_grad(set_to_none=True)
            regularised.backward()
            feature_step.step()
            anneal.step()
            if progress is not None:
                progress(iteration, history[-1])
    c = feature.detach().double().numpy()
    c = c / max(np.linalg.norm(c), 1e-300)
    blocks = {l: c[..., l * l - 1:(l + 1) ** 2 - 1] for l in range(1, config.lmax + 1)}
    found = OrderParameter(blocks, "learned", "")
    found = OrderParameter(found.blocks, "learned", learned_description(found))
    return Learned(found, np.array(history))
