# SPDX-License-Identifier: GPL-3.0-or-later
"""Train: the network learns to move the source vertices onto the target, in a background job."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional

import bpy
import numpy as np

from ...engine import api
from .. import inputs, jobs, props, storage
from .base import BackgroundOperator
from .prediction import keep_prediction, stored


@dataclass(frozen=True)
class Trained:
    """What the training job hands back: the engine's result, the symmetry check of the inputs it
    trained with (None when it could not be made, with the reason in ``skipped``) and its time."""

    result: api.TrainResult
    checked: Optional[dict[str, Any]]
    skipped: str
    checking: float           # seconds of the symmetry check
    radius: Optional[float]   # the graph radius trained with (None: all pairs)
    isolated: int             # vertices with no neighbour within it


class StepClock:
    r"""The expected time of a training run, from the cost of its first steps.

    ``step(i)`` follows step ``i`` (from 0). With :math:`t_i` its time, a step costs
    :math:`c = (t_i - t_0) / i` (step 0 carries the one-time set-up and is left out) and
    :math:`c\,(T - 1 - i)` seconds are left of :math:`T` steps. ``expected`` is the whole run's
    time, from the click (the clock is made when the job is prepared), as first measured after
    :data:`MEASURED` steps: at most, as training stops once it fits; ``seconds()`` the time since
    the click. The job sets :math:`T`, ``total``, when it has chosen the budget.
    """

    MEASURED = 3

    def __init__(self, total: int) -> None:
        self.total = total
        self.began = time.perf_counter()
        self.first: Optional[float] = None
        self.left: Optional[float] = None
        self.expected: Optional[float] = None

    def seconds(self) -> float:
        return time.perf_counter() - self.began

    def step(self, iteration: int) -> None:
        now = time.perf_counter()
        if iteration == 0 or self.first is None:
            self.first = now
            return
        self.left = (now - self.first) / iteration * max(self.total - 1 - iteration, 0)
        if self.expected is None and iteration >= self.MEASURED:
            self.expected = now - self.began + self.left


def duration(seconds: float) -> str:
    """``about 12 s``, ``about 3.5 min``."""
    return f"about {seconds:.2g} s" if seconds < 90 else f"about {seconds / 60:.2g} min"


def train(problem: inputs.Problem, values: dict[str, Any], progress: jobs.Progress, cancel: jobs.Cancel,
          clock: Optional[StepClock] = None) -> Trained:
    """The training job: the graph, the checks, the Curie and local checks with the given input,
    then training, its steps timed by ``clock``."""
    api.load()
    problem = inputs.with_graph(problem, values["graph"])
    start, target, order_parameter = problem.start, problem.target, problem.order_parameter
    api.check_problem(start, target, problem.config, order_parameter)
    steps = values["iterations"] or api.training_budget(api.count_edges(start, problem.config.radius))
    if clock is not None:
        clock.total = steps
    began = time.perf_counter()
    try:
        checked, skipped = api.analyze(start, target, order_parameter, types=problem.types,
                                       radius=problem.config.radius, layers=problem.config.layers,
                                       hub=problem.config.hub, cancel=cancel), ""
    except ValueError as error:
        checked, skipped = None, f"Symmetry check skipped: {error}"
    checking = time.perf_counter() - began

    def timed(iteration: int, loss: float) -> None:
        if clock is not None:
            clock.step(iteration)
        progress(iteration, loss)

    result = api.train(start, target, config=problem.config, order_parameter=order_parameter, types=problem.types,
                       iterations=steps, lr=values["lr"], seed=values["seed"],
                       progress=timed, cancel=cancel)
    radius = problem.config.radius
    return Trained(result, checked, skipped, checking, radius, len(api.isolated_points(start, radius)))


class SYMBREAK_OT_train(BackgroundOperator):
    """Train the network to move the source vertices to the target (Esc cancels)"""

    bl_idname = "symbreak.train"
    bl_label = "Train"

    what = 'training'
    doing = "training"
    _source: Optional[inputs.Source] = None
    _problem: Optional[inputs.Problem] = None
    _settings: dict[str, Any] = {}
    _clock: Optional[StepClock] = None
    _told = False

    def prepare(self, context: bpy.types.Context) -> tuple[bpy.types.Object, jobs.Work, int]:
        """The source, its problem and the settings training starts with (kept with the model)."""
        src = inputs.source(context)
        inputs.check_editable(src.obj)
        values = inputs.settings(context)
        problem = inputs.problem(src, values)
        self.doubt = inputs.target_doubt(src, problem.target)
        clock = StepClock(values["iterations"] or 0)  # the job sets the budget it chooses
        self._source, self._problem, self._settings, self._clock, self._told = src, problem, values, clock, False
        return (src.obj, lambda progress, cancel: train(problem, values, progress, cancel, clock),
                clock.total)

    def running(self, job: jobs.Job) -> str:
        assert self._obj is not None and self._clock is not None
        clock = self._clock
        if clock.expected is not None and not self._told:
            self._told = True
            self.report({'INFO'}, f"Training {self._obj.name!r}: at most {clock.total} steps, "
                                  f"{duration(clock.expected)} expected from the first {clock.MEASURED}")
        left = "" if clock.left is None else f", {duration(clock.left)} left"
        return (f"SymBreak: training {self._obj.name} — step {job.iteration}/{clock.total}, loss {job.loss:.4g}"
                f"{left} (Esc to cancel)")

    def keep(self, context: bpy.types.Context, trained: Trained) -> None:
        src, problem, result = self._source, self._problem, trained.result
        assert src is not None and problem is not None
        p = stored(src, result.prediction)  # checked before anything is written
        obj = src.obj
        storage.store_model(obj, result.model, result.loss_history, {**self._settings, "radius": trained.radius})
        storage.store_target(obj, problem.target)
        keep_prediction(context, obj, p)
        storage.store_fit(obj, result.fit)
        clicked = self._clock.seconds() if self._clock is not None else result.seconds
        own = props.object_settings(obj)
        own.final_loss, own.train_seconds = float(result.final_loss), float(clicked)
        if trained.checked is not None:
            storage.store_symmetry(obj, trained.checked)
        warning = trained.skipped or (trained.checked or {}).get("warning", "")
        if warning:
            self.report({'WARNING'}, warning)
        if trained.isolated:
            one = trained.isolated == 1
            seen = ("the mesh only through the hub" if self._settings["hub"] else "nothing around them")
            self.report({'WARNING'}, f"{trained.isolated} {'vertex has' if one else 'vertices have'} no neighbour "
                                     f"within the graph radius {trained.radius:.3g}: the network sees {seen} "
                                     f"(raise Radius to give {'it' if one else 'them'} neighbours)")
        ambiguous = int(np.count_nonzero(result.prediction.ambiguous))
        tied = f", {ambiguous} with tied peaks" if ambiguous else ""
        chosen = (f", graph radius {trained.radius:.3g} chosen from the mesh"
                  if self._settings["graph"] == 'AUTO' and trained.radius is not None else "")
        expected = self._clock.expected if self._clock is not None else None
        guessed = "" if expected is None else f" ({duration(expected)} expected)"
        self.report({'INFO'}, f"Trained {obj.name!r}: {len(result.loss_history)} steps in {clicked:.2f} s{guessed}, "
                              f"of which {result.seconds:.2f} s training, {trained.checking:.2f} s the symmetry "
                              f"check and {clicked - result.seconds - trained.checking:.2f} s the rest (set-up, "
                              f"reading the peaks, packing the model); final loss {result.final_loss:.3g}, "
                              f"{result.fit.summary()}{tied}{chosen}")


CLASSES = [SYMBREAK_OT_train]
