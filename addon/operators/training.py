# SPDX-License-Identifier: GPL-3.0-or-later
"""Train: the network learns to move the source vertices onto the target, in a background job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import bpy
import numpy as np

from ...engine import api
from .. import inputs, jobs, props, storage
from .base import BackgroundOperator
from .prediction import stored


@dataclass(frozen=True)
class Trained:
    """What the training job hands back: the engine's result, the symmetry check of the inputs it
    trained with (None when it could not be made, with the reason in ``skipped``)."""

    result: api.TrainResult
    checked: Optional[dict[str, Any]]
    skipped: str
    radius: Optional[float]   # the graph radius trained with (None: all pairs)
    isolated: int             # vertices with no neighbour within it


def train(problem: inputs.Problem, values: dict[str, Any], progress: jobs.Progress, cancel: jobs.Cancel) -> Trained:
    """The training job: the graph, the checks, the Curie check with the given input, then training."""
    api.load()
    problem = inputs.with_graph(problem, values["graph"])
    start, target, order_parameter = problem.start, problem.target, problem.order_parameter
    api.check_problem(start, target, problem.config, order_parameter)
    try:
        checked, skipped = api.analyze(start, target, order_parameter, cancel=cancel), ""
    except ValueError as error:
        checked, skipped = None, f"Symmetry check skipped: {error}"
    result = api.train(start, target, config=problem.config, order_parameter=order_parameter,
                       iterations=values["iterations"], lr=values["lr"], seed=values["seed"],
                       progress=progress, cancel=cancel)
    radius = problem.config.radius
    return Trained(result, checked, skipped, radius, len(api.isolated_points(start, radius)))


class SYMBREAK_OT_train(BackgroundOperator):
    """Train the network to move the source vertices to the target (Esc cancels)"""

    bl_idname = "symbreak.train"
    bl_label = "Train"

    what = 'training'
    doing = "training"
    _source: Optional[inputs.Source] = None
    _problem: Optional[inputs.Problem] = None
    _settings: dict[str, Any] = {}

    def prepare(self, context: bpy.types.Context) -> tuple[bpy.types.Object, jobs.Work, int]:
        """The source, its problem and the settings training starts with (kept with the model)."""
        src = inputs.source(context)
        inputs.check_editable(src.obj)
        values = inputs.settings(context)
        problem = inputs.problem(src, values)
        self._source, self._problem, self._settings = src, problem, values
        return src.obj, lambda progress, cancel: train(problem, values, progress, cancel), values["iterations"]

    def running(self, job: jobs.Job) -> str:
        assert self._obj is not None
        return (f"SymBreak: training {self._obj.name} — step {job.iteration}/{job.total}, loss {job.loss:.4g} "
                "(Esc to cancel)")

    def keep(self, context: bpy.types.Context, trained: Trained) -> None:
        src, problem, result = self._source, self._problem, trained.result
        assert src is not None and problem is not None
        p = stored(src, result.prediction)  # checked before anything is written
        obj = src.obj
        storage.store_model(obj, result.model, result.loss_history, {**self._settings, "radius": trained.radius})
        storage.store_target(obj, problem.target)
        storage.store_prediction(obj, p)
        own = props.object_settings(obj)
        own.final_loss, own.train_seconds = float(result.final_loss), float(result.seconds)
        if trained.checked is not None:
            storage.store_symmetry(obj, trained.checked)
        warning = trained.skipped or (trained.checked or {}).get("warning", "")
        if warning:
            self.report({'WARNING'}, warning)
        if trained.isolated:
            self.report({'WARNING'}, f"{trained.isolated} vertices have no neighbour within the graph radius "
                                     f"{trained.radius:.3g}: the network sees nothing around them (raise Radius)")
        ambiguous = int(np.count_nonzero(result.prediction.ambiguous))
        tied = f", {ambiguous} with tied peaks" if ambiguous else ""
        chosen = (f", graph radius {trained.radius:.3g} chosen from the mesh"
                  if self._settings["graph"] == 'AUTO' and trained.radius is not None else "")
        self.report({'INFO'}, f"Trained {obj.name!r}: {len(result.loss_history)} steps in {result.seconds:.2f} s, "
                              f"final loss {result.final_loss:.3g}{tied}{chosen}")


CLASSES = [SYMBREAK_OT_train]
