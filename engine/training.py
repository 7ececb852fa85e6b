r"""Training and prediction: point sets in, decoded displacements out (numpy at the boundary).

The loss is the seed's mean squared error between the output and the target signals
:math:`c_i = \mathrm{project}(\vec x^{\,\mathrm{target}}_i - \vec x^{\,\mathrm{start}}_i)`
(or the displacement vectors themselves with ``output='vector'``), minimised with Adam.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from e3nn import o3
from torch.optim.adam import adam

from . import signals
from .geometry import MAX_TRAINING_EDGES, check_graph
from .model import ModelConfig, Network, hidden_irreps

__all__ = ["Features", "Prediction", "TrainResult", "TrainingCancelled", "TrainingDiverged",
           "LearnedOrderParameter", "check_points", "check_problem", "train", "predict", "learn_order_parameter"]


SMALL_GRAPH_EDGES = 4096


@contextlib.contextmanager
def _threads_for(num_edges: int):
    """One intra-op thread for small graphs: their tensors are too small to share out, and
    waiting threads stall badly when the cores are busy (the seed's tasks measured 0.5 s on
    one thread against 6-27 s on two beside another busy process)."""
    previous = torch.get_num_threads()
    if num_edges <= SMALL_GRAPH_EDGES:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class TrainingCancelled(Exception):
    """Raised inside :func:`train` when its ``cancel`` callback returns true."""


class TrainingDiverged(ValueError):
    """Raised when the loss becomes NaN, infinite or explodes."""


def check_points(points, name: str = "points") -> np.ndarray:
    """``(N, 3)`` finite float64 array with :math:`N \\ge 2`, or ``ValueError`` saying what is wrong."""
    try:
        array = np.asarray(points)
        if array.dtype.kind == "c":
            raise ValueError("complex numbers are not coordinates")
        array = array.astype(np.float64)
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"{name} must be real numbers of shape (N, 3): {error}") from None
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"{name} must have shape (N, 3), got {array.shape}")
    if len(array) < 2:
        raise ValueError(f"{name} must have at least 2 points, got {len(array)}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite coordinates")
    return array


@dataclass(frozen=True)
class Features:
    """Per-point input features: ``values`` of shape ``(N, dim)`` transforming as ``irreps``.

    The seed's input is one scalar 1 per point (:meth:`scalar`). An order parameter is a
    global feature given to every point (:meth:`with_global`).
    """

    irreps: str
    values: np.ndarray

    def __post_init__(self):
        irreps = o3.Irreps(self.irreps)
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != irreps.dim:
            raise ValueError(f"Features {self.irreps} need shape (N, {irreps.dim}), got {values.shape}")
        if not np.isfinite(values).all():
            raise ValueError("Features contain NaN or infinite values")
        object.__setattr__(self, "values", values)

    @classmethod
    def scalar(cls, n: int) -> "Features":
        return cls("0e", np.ones((n, 1)))

    @classmethod
    def with_global(cls, n: int, irreps: str | int, coefficients) -> "Features":
        """The scalar 1 plus a global feature on every point: ``irreps`` such as ``"2e"`` or
        ``"1o+2e+3o"``, or a degree ``l`` (parity :math:`(-1)^l`)."""
        if isinstance(irreps, int):
            irreps = f"{irreps}{'e' if irreps % 2 == 0 else 'o'}"
        c = np.asarray(coefficients, dtype=np.float64).reshape(-1)
        if len(c) != o3.Irreps(irreps).dim:
            raise ValueError(f"A {irreps} feature has {o3.Irreps(irreps).dim} coefficients, got {len(c)}")
        return cls(f"0e+{o3.Irreps(irreps)}", np.concatenate([np.ones((n, 1)), np.tile(c, (n, 1))], axis=1))

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Prediction:
    """What the network says about a point set.

    Attributes
    ----------
    signals : ``(N, D)`` raw outputs (signals, or ``1o`` vectors with ``output='vector'``)
    displacements : ``(N, 3)`` decoded displacements (highest peak)
    predicted : ``(N, 3)`` start plus displacement
    ambiguous : ``(N,)`` bool, tied peaks (never resolved)
    peaks : list of ``(k_i, 3)`` arrays, every tied peak's displacement
    """

    signals: np.ndarray
    displacements: np.ndarray
    predicted: np.ndarray
    ambiguous: np.ndarray
    peaks: list


@dataclass(frozen=True)
class TrainResult(Prediction):
    """A :class:`Prediction` on the training points, with the trained model and its history.

    ``seconds`` is the wall time from the call to the trained model (construction,
    precomputation and training); ``final_loss`` is the loss of the returned outputs.
    """

    model: Network | None = None
    features: Features | None = None
    loss_history: np.ndarray | None = None
    final_loss: float = math.nan
    seconds: float = math.nan


def _targets(config: ModelConfig, displacements: np.ndarray) -> np.ndarray:
    return signals.project(displacements, config.lmax) if config.output == "signal" else displacements


def _decoded(config: ModelConfig, start: np.ndarray, output: np.ndarray) -> Prediction:
    if not np.isfinite(output).all():
        raise ValueError(f"The network's output is not finite at {int((~np.isfinite(output)).any(axis=1).sum())} "
                         f"of {len(output)} points: the model is damaged or its weights overflow on these points")
    if config.output == "signal":
        peaks = signals.decode(output)
        displacements, ambiguous, tied = peaks.displacements, peaks.ambiguous, peaks.peaks
    else:
        displacements, ambiguous, tied = output, np.zeros(len(output), dtype=bool), [d[None] for d in output]
    return Prediction(output, displacements, start + displacements, ambiguous, tied)


def check_problem(start, target, config: ModelConfig, features: Features | None = None):
    """Validated ``(start, target, features)`` for training, or ``ValueError`` saying what is
    wrong: cheap, so a caller can check before handing the work to another thread."""
    start, target = check_points(start, "start"), check_points(target, "target")
    if start.shape != target.shape:
        raise ValueError(f"start and target must have the same number of points, got {len(start)} and {len(target)}")
    features = features or Features.scalar(len(start))
    if len(features) != len(start):
        raise ValueError(f"features are given for {len(features)} points, but there are {len(start)}")
    check_graph(start, config.radius, MAX_TRAINING_EDGES)
    return start, target, features


def _optimise(model: Network, geometry, x, goal, iterations, lr, tolerance, progress, cancel) -> list[float]:
    r"""Adam on :math:`\mathrm{mean}(\mathrm{model}(x) - \mathrm{goal})^2` with the plan's gradient,
    all weights as one flat vector; returns the loss of each step.

    The update is torch's fused Adam called as a function: ``Optimizer.step``'s bookkeeping
    takes longer than the update itself at this size."""
    plan = model.plan(geometry)
    theta = model.radial.flat()
    grad, first, second, step = torch.zeros_like(theta), torch.zeros_like(theta), torch.zeros_like(theta), torch.zeros(())
    weights, grads = model.radial.unflatten(theta), model.radial.unflatten(grad)
    history: list[float] = []
    for iteration in range(iterations):
        if cancel is not None and cancel():
            raise TrainingCancelled(f"Training cancelled at iteration {iteration}")
        value = plan.loss_and_gradient(weights, x, goal, grads).item()  # fills grad
        if not math.isfinite(value) or (history and value > 1e3 * max(history[0], 1e-12)):
            raise TrainingDiverged(f"Training diverged at iteration {iteration} (loss {value:g}); lower the learning rate")
        history.append(value)
        adam([theta], [grad], [first], [second], [], [step], fused=True, amsgrad=False, beta1=0.9, beta2=0.999,
             lr=lr, weight_decay=0.0, eps=1e-8, maximize=False)
        if progress is not None:
            progress(iteration, value)
        if tolerance is not None and value < tolerance:
            break
    model.radial.load_flat(theta)
    return history


def train(start, target, *, config: ModelConfig | None = None, features: Features | None = None,
          iterations: int = 200, lr: float = 1e-3, seed: int = 0, tolerance: float | None = None,
          progress: Callable[[int, float], None] | None = None,
          cancel: Callable[[], bool] | None = None, dtype: torch.dtype = torch.float32) -> TrainResult:
    """Train the network to move ``start`` onto ``target`` (both ``(N, 3)``), the seed's way.

    Parameters
    ----------
    config : network settings (the seed's by default)
    features : per-point inputs (one scalar 1 per point by default)
    iterations, lr : Adam steps and learning rate
    seed : seeds the weight initialisation; the same seed gives the same result
    tolerance : stop early once the loss is below it
    progress : called as ``progress(iteration, loss)`` after every step
    cancel : checked before every step; when it returns true, :class:`TrainingCancelled` is raised
    dtype : float32 trains about twice as fast as float64 (the model is kept in float64 after)

    Raises
    ------
    ValueError
        for bad points or features; :class:`TrainingDiverged` when the loss is not finite or
        grows a thousandfold.
    """
    began = time.perf_counter()
    config = config or ModelConfig()
    start, target, features = check_problem(start, target, config, features)
    if iterations < 1 or not lr > 0:
        raise ValueError(f"iterations must be at least 1 and lr positive, got {iterations} and {lr}")

    geometry = config.geometry(start, dtype=dtype)
    with _threads_for(geometry.num_edges):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = Network(config, features.irreps).to(dtype)
        x = torch.as_tensor(features.values, dtype=dtype)
        goal = torch.as_tensor(_targets(config, target - start), dtype=dtype)
        history = _optimise(model, geometry, x, goal, iterations, lr, tolerance, progress, cancel)
        with torch.no_grad():
            output = model(x, geometry).double()
    model.double()
    seconds = time.perf_counter() - began
    final_loss = float((output - goal.double()).pow(2).mean())
    decoded = _decoded(config, start, output.numpy())
    return TrainResult(**vars(decoded), model=model, features=features, loss_history=np.array(history),
                       final_loss=final_loss, seconds=seconds)


def predict(model: Network, positions, features: Features | None = None, *,
            dtype: torch.dtype | str = torch.float64) -> Prediction:
    """Run a trained ``model`` on ``(N, 3)`` positions without training.

    Large point sets want a model with a graph ``radius``; ``dtype=torch.float32`` (or
    ``"float32"``) halves time and memory.
    """
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    positions = check_points(positions, "positions")
    features = features or Features.scalar(len(positions))
    if len(features) != len(positions):
        raise ValueError(f"features are given for {len(features)} points, but there are {len(positions)}")
    if o3.Irreps(features.irreps) != model.irreps_in:
        raise ValueError(f"The model takes {model.irreps_in} features, got {features.irreps}")
    geometry = model.config.geometry(positions, dtype=dtype)
    runner = model if dtype == torch.float64 else copy.deepcopy(model).to(dtype)
    with torch.no_grad():
        output = runner(torch.as_tensor(features.values, dtype=dtype), geometry).double()
    return _decoded(model.config, positions, output.numpy())


@dataclass(frozen=True)
class LearnedOrderParameter:
    """An input feature learned alongside the network, global or per point.

    Attributes
    ----------
    coefficients : ``((lmax+1)^2 - 1,)`` the feature's ``l >= 1`` part (irreps ``1o+2e+...``),
        or ``(N, (lmax+1)^2 - 1)`` per point; of norm 1
    norms : ``{l: |c_l|}`` how much of the feature each degree carries
    features : the input to train with: the scalar 1 and the feature on every point
    loss_history : loss of the network steps
    """

    coefficients: np.ndarray
    norms: dict
    features: Features
    loss_history: np.ndarray


def learn_order_parameter(start, target, *, config: ModelConfig | None = None, iterations: int = 300,
                          lr: float = 1e-2, penalty: float = 1e-3, seed: int = 0,
                          progress: Callable[[int, float], None] | None = None,
                          cancel: Callable[[], bool] | None = None, per_point: bool = False,
                          dtype: torch.dtype = torch.float32) -> LearnedOrderParameter:
    r"""Find the symmetry-breaking input by gradient descent (Smidt, Geiger and Miller 2021).

    A global feature :math:`c = (c_l)_{1 \le l \le L}` is given to every point next to the
    scalar 1 (with ``per_point``, each point has its own :math:`c_i`). Steps alternate between the network and :math:`c` (Adam at ``lr``), :math:`c`
    minimising the loss plus :math:`\lambda_t \sum |c|`, so that only the degrees the target
    needs survive. :math:`\lambda_t` ramps up from 0 to ``penalty`` over the first half, which
    lets the network start using :math:`c` before the penalty prunes it. The result is
    returned normalised, :math:`|c| = 1`: the network sets the scale. ``progress`` and
    ``cancel`` work as in :func:`train`.
    """
    config = config or ModelConfig()
    start, target, _ = check_problem(start, target, config)
    irreps = hidden_irreps(config.lmax)
    geometry = config.geometry(start, dtype=dtype)
    goal = torch.as_tensor(_targets(config, target - start), dtype=dtype)
    with _threads_for(geometry.num_edges), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Network(config, str(irreps)).to(dtype)
        shape = (len(start), irreps.dim - 1) if per_point else (irreps.dim - 1,)
        feature = torch.nn.Parameter(0.1 * torch.randn(shape, dtype=dtype))
        one = torch.ones(len(start), 1, dtype=dtype)

        def loss():
            x = torch.cat([one, feature.expand(len(start), -1)], dim=1)
            return torch.nn.functional.mse_loss(model(x, geometry), goal)

        network_step = torch.optim.Adam(model.parameters(), lr=lr)
        feature_step = torch.optim.Adam([feature], lr=lr)
        # Adam moves every component by about lr per step, so the L1 term makes unneeded degrees
        # jitter around zero with that amplitude: the feature's learning rate decays to zero
        anneal = torch.optim.lr_scheduler.LambdaLR(feature_step, lambda step: 1.0 - step / iterations)
        history = []
        for iteration in range(iterations):
            if cancel is not None and cancel():
                raise TrainingCancelled(f"Learning cancelled at iteration {iteration}")
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
    norms = {l: float(np.linalg.norm(c[..., l * l - 1:(l + 1) ** 2 - 1])) for l in range(1, config.lmax + 1)}
    features = (Features(str(irreps), np.concatenate([np.ones((len(start), 1)), c], axis=1)) if per_point
                else Features.with_global(len(start), str(irreps[1:]), c))
    return LearnedOrderParameter(c, norms, features, np.array(history))
