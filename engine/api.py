"""The engine's one door: plain data in, plain data out.

Everything that crosses is a numpy array, a number, a string, a dict, ``bytes`` (a model
checkpoint) or one of the small frozen dataclasses re-exported here; never a torch object. All
results pickle, so the same calls work in-process, in a worker process or from the command
line. Importing this module imports neither torch, e3nn nor scipy: :func:`load` does, and
every function that needs them imports them when called.

Bad input raises ``ValueError`` with one sentence fit to show a person. Long calls take
``progress`` and ``cancel`` callbacks: ``cancel()`` is polled between steps and, when it returns
true, :class:`Cancelled` is raised.

Imports: the first call that needs torch imports the engine's torch side under one lock, so a
call from one thread never sees the half-imported modules of a :func:`load` running in another
(torch and e3nn fail with errors such as "partially initialized module" when two threads import
them at once).

Threads: torch's intra-op thread count is global to the process. :func:`load` can fix it once;
:func:`train` and :func:`learn_order_parameter` run small graphs (at most 4,096 edges) on one
thread and restore the count after. Call the engine from one thread at a time.
"""

from __future__ import annotations

import math
import numbers
import threading
from typing import Callable

import numpy as np

from .config import MAX_CHANNELS, MESH_CHANNELS, ModelConfig
from .graph_size import MAX_EDGES, MAX_TRAINING_EDGES
from .errors import Cancelled, Diverged, EngineUnavailable
from .order_parameter import OrderParameter
from .order_parameter import axis_pair as _axis_pair
from .order_parameter import fixes_target
from .pairing import Pairing, check_pairing
from .results import EngineInfo, Fit, Learned, Prediction, Surfaces, TrainResult
from .schedule import LR, Schedule
from .schedule import budget as _budget
from .tasks import TASKS, Task
from .validation import MAX_ALL_PAIRS, check_order_parameter, check_pair
from .validation import check_points as _check_points
from .validation import check_problem as _check_problem
from .validation import check_types as _check_types

__all__ = [
    "EngineUnavailable", "Cancelled", "Diverged", "EngineInfo", "ModelConfig", "OrderParameter", "Task", "TASKS",
    "Prediction", "Fit", "TrainResult", "Learned", "Surfaces",
    "load", "check_points", "check_problem", "analyze", "fixes_target", "train", "predict", "learn_order_parameter",
    "axis_pair", "signal_surfaces", "sphere_vertex_count", "model_summary", "encode",
    "MAX_ALL_PAIRS", "MAX_CHANNELS", "MESH_CHANNELS", "MAX_EDGES", "MAX_TRAINING_EDGES", "LR", "training_budget", "count_edges", "suggest_radius",
    "automatic_radius", "isolated_points", "model_from_text", "Pairing", "check_pairing",
]

Progress = Callable[[int, float], None]
Cancel = Callable[[], bool]

DTYPES = ("float32", "float64")

_IMPORTING = threading.Lock()


def _import_torch_side() -> None:
    """Import torch, e3nn, scipy, threadpoolctl and the engine modules built on them, one thread at a time."""
    with _IMPORTING:
        try:
            import e3nn  # noqa: F401
            import scipy.spatial  # noqa: F401  (graphs and point groups)
            import threadpoolctl  # noqa: F401  (the BLAS threads of numpy and scipy)
            import torch  # noqa: F401
            from e3nn import io, nn, o3  # noqa: F401  (e3nn's subpackages load on demand)
        except ImportError as error:
            raise EngineUnavailable(f"The SymBreak engine needs torch, e3nn, scipy and threadpoolctl: {error}") from None
        from . import checkpoint, prediction, signals, symmetry, training  # noqa: F401


def load(threads: int | None = None) -> EngineInfo:
    """Import torch, e3nn, scipy and threadpoolctl (seconds, the first time), and say what was loaded.

    ``threads`` fixes torch's intra-op thread count for the process (None keeps torch's choice).
    Raises :class:`EngineUnavailable` naming what cannot be imported.
    """
    _import_torch_side()
    import e3nn
    import torch

    from . import threads as thread_policy

    count = thread_policy.set_threads(threads)
    devices = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)
    return EngineInfo(torch=torch.__version__, e3nn=e3nn.__version__, threads=count, devices=devices)


def check_points(points, name: str = "points") -> np.ndarray:
    """``(N, 3)`` finite float64 points, :math:`N \\ge 2`, or ``ValueError`` naming ``name``."""
    return _check_points(points, name)


def check_problem(start, target, config: ModelConfig, order_parameter: OrderParameter | None = None) -> None:
    """Cheap check of a training problem before it is handed to another thread or process:
    two point sets of the same length, an order parameter for those points, a graph that fits."""
    _check_problem(start, target, config, order_parameter)


def _check_iterations(iterations) -> None:
    if isinstance(iterations, bool) or not (isinstance(iterations, numbers.Integral) and int(iterations) >= 1):
        raise ValueError(f"iterations must be a whole number of at least 1, got {iterations}")

def _cancelled(cancel: Cancel | None, what: str) -> None:
    if cancel is not None and cancel():
        raise Cancelled(f"{what} cancelled")


def analyze(start, target, order_parameter: OrderParameter | None = None, *, types=None, lmax: int = 5,
            radius: float | None = None, layers: int = 3, hub: bool = True, progress: Progress | None = None,
            cancel: Cancel | None = None) -> dict:
    """Point groups, Curie's check and the order parameters of a start and target, JSON-ready.

    ``types`` (``(N,)`` integers, e.g. each atom's species) lets a symmetry exchange only
    points of one type: two points of different types are C∞v, of one type D∞h.

    Keys: ``start_group``, ``start_order``, ``kept_group``, ``kept_order`` (None for an infinite
    group), ``learnable``, ``broken_operations``, ``order_parameter`` and
    ``point_order_parameter`` (:meth:`OrderParameter.to_dict` or None), ``verdict``; then
    ``inputs`` (the input checked: ``order_parameter``'s significant degrees, or none) and
    ``warning`` ("" when the target is learnable with that input, else how to fix it); ``local``:
    for a network of ``layers`` over a radius graph of ``radius`` (with a ``hub``, as
    :class:`ModelConfig` has by default), the vertices it cannot tell apart
    (``indistinguishable``, ``reach``, ``sentence``, ``seconds``, ...), or None for all pairs.
    ``progress(step, 2)`` is called after the group and after the order parameters.
    """
    _import_torch_side()
    from . import symmetry, threads

    x0, x1 = check_pair(start, target)
    check_order_parameter(order_parameter, len(x0))
    types = _check_types(types, len(x0))
    _cancelled(cancel, "Analysis")
    with threads.single_thread():
        return symmetry.analyze(x0, x1, order_parameter, types, lmax=lmax, radius=radius, layers=layers, hub=hub,
                                progress=progress, cancel=cancel)


def _prediction_features(model_features, order_parameter: OrderParameter | None, n: int, types):
    """The inputs for ``n`` points of ``types`` to a model trained with ``model_features``: the
    scalars of its types and ``order_parameter``, or the model's own global input when none is given."""
    from .features import Features

    if order_parameter is not None or not model_features.order_parameter_irreps:
        return Features.with_order_parameter(n, order_parameter, types, model_features.types)
    values = model_features.order_parameter_values
    if not np.allclose(values, values[:1]):
        raise ValueError("The model was trained with a per-point input: give the order parameter for these points")
    scalars = Features.of_types(n, types, model_features.types)
    return scalars.followed_by(model_features.order_parameter_irreps, np.tile(values[:1], (n, 1)))


def train(start, target, *, config: ModelConfig, order_parameter: OrderParameter | None = None, types=None,
          iterations: int | None = None, lr: float = LR, seed: int = 0, progress: Progress | None = None,
          cancel: Cancel | None = None) -> TrainResult:
    """Train the network to move ``start`` onto ``target`` (both ``(N, 3)``) with the seed's loss,
    in units of the mesh (the same task trains the same at any scale).

    Each point's input is the scalar 1, or with ``types`` (``(N,)`` integers, at most
    16 distinct) the one-hot scalars of its type among them (the model keeps the type list);
    ``order_parameter`` follows. ``iterations`` is the most steps (None: :func:`training_budget`
    of the graph); training stops earlier once the fit is reached or stalls, and ``lr`` is where
    its cosine schedule starts (:class:`engine.schedule.Schedule`). ``progress(iteration, loss)``
    follows each step. ``seconds`` counts from the call to the trained model; ``final_loss`` is
    the loss of the returned prediction (displacements in units of the largest, as the loss
    history) and ``fit`` its position errors against ``target`` (:class:`Fit`: max, mean and
    share within 5 % of the largest displacement), the measure to show next to the loss.
    Raises ``ValueError`` for bad input and :class:`Diverged` when the loss explodes.
    """
    x0, x1 = _check_problem(start, target, config, order_parameter)
    if iterations is not None:
        _check_iterations(iterations)
    if not (isinstance(lr, numbers.Real) and lr > 0):
        raise ValueError(f"The learning rate must be positive, got {lr}")
    from .features import Features

    features = Features.with_order_parameter(len(x0), order_parameter, _check_types(types, len(x0)))
    steps = training_budget(count_edges(x0, config.radius)) if iterations is None else int(iterations)
    _import_torch_side()
    from . import checkpoint, training

    trained = training.train(x0, x1, config=config, features=features, schedule=Schedule(steps, lr=float(lr)),
                             seed=seed, progress=progress, cancel=cancel)
    return TrainResult(trained.prediction, checkpoint.to_bytes(trained.model, trained.features),
                       trained.loss_history, trained.final_loss, trained.seconds,
                       Fit.of(x0, x1, trained.prediction.predicted))


def predict(model: bytes, positions, *, order_parameter: OrderParameter | None = None, types=None,
            dtype: str = "float64", progress: Progress | None = None, cancel: Cancel | None = None) -> Prediction:
    """Run a trained ``model`` (checkpoint bytes) on ``(N, 3)`` positions.

    Without ``order_parameter`` the model's own global input is used (none for the scalar
    input). ``types`` are the points' types, among those the model was trained on (needed when
    it was trained on several). ``dtype`` is ``'float64'`` or ``'float32'`` (half the time and memory).
    ``progress(step, 2)`` follows loading the model and running it.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    positions = _check_points(positions, "positions")
    types = _check_types(types, len(positions))
    _import_torch_side()
    from . import checkpoint
    from .prediction import predict as run_network

    network, features = checkpoint.from_bytes(model)
    inputs = _prediction_features(features, order_parameter, len(positions), types)
    if progress is not None:
        progress(1, 2)
    _cancelled(cancel, "Prediction")
    prediction = run_network(network, positions, inputs, dtype=dtype)
    if progress is not None:
        progress(2, 2)
    return prediction


def learn_order_parameter(start, target, *, config: ModelConfig, types=None, iterations: int = 300, seed: int = 0,
                          per_point: bool = False, progress: Progress | None = None,
                          cancel: Cancel | None = None) -> Learned:
    """Learn the symmetry-breaking input alongside the network (degrees 1..lmax, norm 1, global
    or with ``per_point`` one per point), given next to the scalars of ``types`` as in
    :func:`train`; ``progress(iteration, loss)`` follows each step."""
    x0, x1 = _check_problem(start, target, config)
    _check_iterations(iterations)
    from .features import Features

    scalars = Features.of_types(len(x0), _check_types(types, len(x0)))
    _import_torch_side()
    from . import training

    return training.learn_order_parameter(x0, x1, config=config, scalars=scalars, iterations=int(iterations),
                                          seed=seed, per_point=per_point, progress=progress, cancel=cancel)


def axis_pair(axis_a, axis_b) -> OrderParameter:
    """The L=2 input :math:`\\propto (\\hat a \\cdot \\hat r)^2 - (\\hat b \\cdot \\hat r)^2` of two axes."""
    return _axis_pair(axis_a, axis_b)


def sphere_vertex_count(level: int) -> int:
    """Vertices of one signal surface at icosphere ``level`` 0..7: :math:`10 \\cdot 4^k + 2`."""
    if not (isinstance(level, int) and 0 <= level <= 7):
        raise ValueError(f"Sphere grid level must be in 0..7, got {level}")
    return 10 * 4 ** level + 2


def signal_surfaces(signals, centers, *, scale: float = 1.0, level: int = 3) -> Surfaces:
    """Surfaces :math:`\\vec c + s\\,|f(\\hat u)|\\,\\hat u` of ``(S, D)`` signals at ``(S, 3)`` centres."""
    values = np.atleast_2d(np.asarray(signals, dtype=np.float64))
    centres = np.asarray(centers, dtype=np.float64)
    if centres.shape != (len(values), 3) or not np.isfinite(centres).all() or not np.isfinite(values).all():
        raise ValueError(f"Give finite (S, D) signals and (S, 3) centres, got {values.shape} and {centres.shape}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"The surface scale must be positive, got {scale}")
    sphere_vertex_count(level)
    _import_torch_side()
    from . import signals as signal_maths

    return signal_maths.surfaces(values, centres, scale=scale, level=level)


def model_summary(model: bytes) -> dict:
    """What a checkpoint holds, after validating it: ``config`` (a dict), ``irreps_in``,
    ``features_irreps``, ``order_parameter_irreps`` ("" for none), ``types`` (the vertex types
    it was trained on, [] for none) and its number of weights. ``CheckpointError`` (a ``ValueError``)
    for anything that is not a SymBreak model."""
    _import_torch_side()
    from . import checkpoint

    network, features = checkpoint.from_bytes(model)
    return {"config": network.config.to_dict(), "irreps_in": str(network.irreps_in),
            "features_irreps": features.irreps, "order_parameter_irreps": features.order_parameter_irreps,
            "types": list(features.types), "weights": int(sum(p.numel() for p in network.parameters()))}


def encode(displacements, lmax: int = 5) -> np.ndarray:
    r"""``(N, (lmax+1)^2)`` signals whose single peak is each displacement :math:`\vec d` of
    ``(N, 3)``: height :math:`|\vec d|` along :math:`\hat d` (the zero signal for a zero one)."""
    d = np.asarray(displacements, dtype=np.float64)
    if d.ndim != 2 or d.shape[1] != 3 or not np.isfinite(d).all():
        raise ValueError(f"Displacements must be finite and of shape (N, 3), got {d.shape}")
    if not (isinstance(lmax, int) and 0 <= lmax <= 10):
        raise ValueError(f"lmax must be a whole number in 0..10, got {lmax}")
    _import_torch_side()
    from . import signals

    return signals.encode(d, lmax=lmax)


# --- graph sizes and stored text: what can be checked before any work starts -------------------

def training_budget(num_edges: int) -> int:
    """The most steps :func:`train` takes by default on a graph of ``num_edges`` edges."""
    return _budget(num_edges)


def count_edges(positions, radius: float | None) -> int:
    """Directed edges (loops included) of the graph on ``positions``, counted without building
    it (exact up to 4,096 points, estimated from a fixed sample beyond); imports scipy, no torch."""
    from .graph_size import count_edges as count

    return count(_check_points(positions, "positions"), radius)


def suggest_radius(positions, *, for_training: bool = False) -> float:
    """A graph radius from the mesh itself: about 12 neighbours for a typical vertex, none left
    alone where the edge bound allows (:data:`MAX_TRAINING_EDGES` with ``for_training``, else
    :data:`MAX_EDGES`)."""
    from .graph_size import suggest_radius as suggest

    return suggest(_check_points(positions, "positions"), limit=MAX_TRAINING_EDGES if for_training else MAX_EDGES)


def automatic_radius(positions) -> float | None:
    """The graph to train on when the user picks none: all pairs (None) up to :data:`MAX_ALL_PAIRS`
    points, as in the seed, and above that :func:`suggest_radius` for training."""
    points = _check_points(positions, "positions")
    return None if len(points) <= MAX_ALL_PAIRS else suggest_radius(points, for_training=True)


def isolated_points(positions, radius: float | None) -> np.ndarray:
    """Indices of the vertices with no neighbour within ``radius`` (none for all pairs)."""
    from .graph_size import isolated_points as isolated

    return isolated(_check_points(positions, "positions"), radius)


def model_from_text(text: str) -> bytes:
    """The model bytes stored as base64 text; ``CheckpointError`` (a ``ValueError``, one
    sentence) for text that is not base64 or too long. The bytes are validated by
    :func:`predict` and :func:`model_summary`."""
    from . import checkpoint

    return checkpoint.text_to_bytes(text)


