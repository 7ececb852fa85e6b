# SPDX-License-Identifier: GPL-3.0-or-later
"""Symmetry: Analyze Symmetry and Learn Order Parameter (background jobs), Use Order Parameter
and Show Order Parameter."""

from __future__ import annotations

from typing import Any, Optional

import bpy

from ...engine import api
from .. import inputs, jobs, props, storage
from ..build import surfaces
from .base import BackgroundOperator, Result, SceneOperator, fail

# Learn Order Parameter's steps: the engine's default, which its penalty ramp is tuned for.
LEARNING_ITERATIONS = 300


def analyze(problem: inputs.Problem, graph: str, progress: jobs.Progress, cancel: jobs.Cancel) -> dict[str, Any]:
    """The analysis job: point groups, the Curie check with the given input, the order parameters,
    and the vertices the network cannot tell apart on the graph :func:`inputs.with_graph` chooses."""
    api.load()
    config = inputs.with_graph(problem, graph).config
    return api.analyze(problem.start, problem.target, problem.order_parameter, types=problem.types,
                       radius=config.radius, layers=config.layers, hub=config.hub, progress=progress, cancel=cancel)


class SYMBREAK_OT_analyze_symmetry(BackgroundOperator):
    """Find the start's point group, the subgroup the target keeps and the order parameter that
    makes the task learnable (Curie's principle; Esc cancels)"""

    bl_idname = "symbreak.analyze_symmetry"
    bl_label = "Analyze Symmetry"

    what = 'analyzing'
    doing = "analyzing the symmetry"

    def prepare(self, context: bpy.types.Context) -> tuple[bpy.types.Object, jobs.Work, int]:
        src = inputs.source(context)
        inputs.check_editable(src.obj)
        values = inputs.settings(context)
        problem, graph = inputs.problem(src, values), values["graph"]
        self.doubt = inputs.target_doubt(src, problem.target)
        return src.obj, lambda progress, cancel: analyze(problem, graph, progress, cancel), 2

    def running(self, job: jobs.Job) -> str:
        assert self._obj is not None
        return f"SymBreak: analyzing the symmetry of {self._obj.name} (Esc to cancel)"

    def keep(self, context: bpy.types.Context, record: dict[str, Any]) -> None:
        assert self._obj is not None
        storage.store_symmetry(self._obj, record)
        local = record["local"]
        if local is not None and not local["indistinguishable"]:
            self.report({'INFO'}, local["sentence"])
        if record["warning"]:
            self.report({'WARNING'}, record["warning"])
        elif record["learnable"]:
            self.report({'INFO'}, record["verdict"])
        else:
            self.report({'INFO'}, f"The target keeps {record['kept_group']} of {record['start_group']}: "
                                  f"learnable with {record['inputs']}")


def learn(problem: inputs.Problem, graph: str, seed: int, progress: jobs.Progress,
          cancel: jobs.Cancel) -> api.Learned:
    """The learning job, on the graph :func:`inputs.with_graph` chooses."""
    api.load()
    problem = inputs.with_graph(problem, graph)
    return api.learn_order_parameter(problem.start, problem.target, config=problem.config, types=problem.types,
                                     iterations=LEARNING_ITERATIONS, seed=seed, progress=progress, cancel=cancel)


class SYMBREAK_OT_learn_order_parameter(BackgroundOperator):
    """Learn the symmetry-breaking input by gradient descent, alongside a network, with an L1
    penalty that keeps only the degrees the target needs (Esc cancels)"""

    bl_idname = "symbreak.learn_order_parameter"
    bl_label = "Learn Order Parameter"

    what = 'learning'
    doing = "learning the order parameter"

    def prepare(self, context: bpy.types.Context) -> tuple[bpy.types.Object, jobs.Work, int]:
        src = inputs.source(context)
        inputs.check_editable(src.obj)
        values = inputs.settings(context)
        problem = inputs.Problem(src.start, inputs.target(src), inputs.config(values), None, src.types)
        self.doubt = inputs.target_doubt(src, problem.target)
        graph, seed = values["graph"], values["seed"]
        return src.obj, lambda progress, cancel: learn(problem, graph, seed, progress, cancel), LEARNING_ITERATIONS

    def running(self, job: jobs.Job) -> str:
        assert self._obj is not None
        return (f"SymBreak: learning the order parameter of {self._obj.name} — step {job.iteration}/{job.total}, "
                f"loss {job.loss:.4g} (Esc to cancel)")

    def keep(self, context: bpy.types.Context, learned: api.Learned) -> None:
        assert self._obj is not None
        storage.store_learned_order_parameter(self._obj, learned.order_parameter)
        self.report({'INFO'}, f"Learned the order parameter of {self._obj.name!r}: "
                              f"{learned.order_parameter.description}")


class SYMBREAK_OT_use_order_parameter(SceneOperator):
    """Make the order parameter found by Analyze Symmetry the symmetry-breaking input"""

    bl_idname = "symbreak.use_order_parameter"
    bl_label = "Use Order Parameter"

    def execute(self, context: bpy.types.Context) -> Result:
        try:  # everything is read and checked before anything changes
            obj = inputs.active_mesh(context)
            inputs.check_editable(obj)
            record, found = storage.symmetry(obj), storage.suggested_order_parameter(obj)
        except ValueError as error:
            return fail(self, str(error))
        if found is None or record is None:
            return fail(self, f"{obj.name!r} has no suggested order parameter: Analyze Symmetry first")
        if not api.fixes_target(record):
            return fail(self, f"The closest order parameter, {found.description}, keeps {found.symmetry}, not the "
                              f"target's {record['kept_group']}: no global order parameter fixes this target")
        storage.store_order_parameter(obj, found)
        props.object_settings(obj).breaking = 'ORDER_PARAMETER'
        local = record.get("local") or {}  # the local check stands until Analyze Symmetry runs again
        warning = local.get("sentence", "") if local.get("indistinguishable") else ""
        storage.store_symmetry(obj, {**record, "inputs": f"the input {found.description}", "warning": warning})
        self.report({'INFO'}, f"{obj.name!r} now breaks its symmetry with the order parameter {found.description}")
        return {'FINISHED'}


class SYMBREAK_OT_show_order_parameter(SceneOperator):
    """Draw the order parameter as a surface at the vertices' centre: the global symmetry-breaking
    input, or else the one suggested by Analyze Symmetry"""

    bl_idname = "symbreak.show_order_parameter"
    bl_label = "Show Order Parameter"

    def execute(self, context: bpy.types.Context) -> Result:
        try:
            src = inputs.source(context)
            inputs.check_editable(src.obj)
            extra = inputs.breaking(src)
            found = extra if extra is not None and extra.is_global else storage.suggested_order_parameter(src.obj)
        except ValueError as error:
            return fail(self, str(error))
        if found is None:
            return fail(self, f"{src.obj.name!r} has no global order parameter: Analyze Symmetry first")
        surface = surfaces.build_order_parameter(src.obj, found, src.start,
                                                 level=props.settings(context).display.signal_level)
        self.report({'INFO'}, f"Order parameter {found.description} drawn in {surface.name!r}")
        return {'FINISHED'}


CLASSES = [
    SYMBREAK_OT_analyze_symmetry,
    SYMBREAK_OT_use_order_parameter,
    SYMBREAK_OT_show_order_parameter,
    SYMBREAK_OT_learn_order_parameter,
]
