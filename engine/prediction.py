"""Prediction: a trained network on any point set, its outputs decoded into displacements."""

from __future__ import annotations

import copy

import numpy as np
import torch
from e3nn import o3

from . import heap, signals, threads
from .config import ModelConfig
from .features import Features
from .graph import Graph
from .network import Network
from .results import Prediction

__all__ = ["predict", "decoded", "checked_features"]


def decoded(config: ModelConfig, start: np.ndarray, output: np.ndarray) -> Prediction:
    """The :class:`Prediction` of ``(N, D)`` outputs at ``(N, 3)`` ``start``, in units of
    ``config.unit``: back in the mesh's units, peaks decoded on one thread, ties kept;
    ``ValueError`` for outputs that are not finite, so nothing non-finite is ever returned."""
    output = output * config.unit
    if not np.isfinite(output).all():
        raise ValueError(f"The network's output is not finite at {int((~np.isfinite(output)).any(axis=1).sum())} "
                         f"of {len(output)} points: the model is damaged or its weights overflow on these points")
    if config.output == "signal":
        with threads.single_thread():  # beside a busy process two threads decoded a 900-vertex grid 10x slower
            peaks = signals.decode(output)
        displacements, ambiguous, tied = peaks.displacements, peaks.ambiguous, peaks.peaks
    else:
        displacements, ambiguous, tied = output, np.zeros(len(output), dtype=bool), [d[None] for d in output]
    return Prediction(output, displacements, start + displacements, ambiguous, tied)


def checked_features(features: Features | None, n: int) -> Features:
    """``features`` for ``n`` points (the scalar 1 of each by default), checked."""
    features = features or Features.scalar(n)
    if len(features) != n:
        raise ValueError(f"features are given for {len(features)} points, but there are {n}")
    return features


def predict(model: Network, positions, features: Features | None = None, *,
            dtype: torch.dtype | str = torch.float64) -> Prediction:
    """Run a trained ``model`` on ``(N, 3)`` float64 ``positions`` (checked by the caller, as
    :func:`engine.api.predict` does) without training.

    Large point sets want a model with a graph ``radius``; ``dtype=torch.float32`` (or
    ``"float32"``) halves time and memory.
    """
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    features = checked_features(features, len(positions))
    if o3.Irreps(features.irreps) != model.irreps_in:
        raise ValueError(f"The model takes {model.irreps_in} features, got {features.irreps}")
    # as training: two threads beside a busy process ran 100k points 8x slower
    with threads.single_thread(), heap.kept():
        graph = Graph.of(model.config, positions, dtype=dtype)
        runner = model if dtype == torch.float64 else copy.deepcopy(model).to(dtype)
        with torch.no_grad():
            output = runner(torch.as_tensor(features.values, dtype=dtype), graph).double()
        return decoded(model.config, positions, output.numpy())
