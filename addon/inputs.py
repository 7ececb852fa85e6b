# SPDX-License-Identifier: GPL-3.0-or-later
"""Turn the scene into an engine problem: source, target, features and network settings.

Every check on user input happens here, before anything in the scene changes. Errors are
``ValueError`` with a message fit for ``Operator.report``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import bpy
import numpy as np

from . import mesh, state

AXIS_VECTORS = {'X': (1.0, 0.0, 0.0), 'Y': (0.0, 1.0, 0.0), 'Z': (0.0, 0.0, 1.0)}


@dataclass
class Source:
    """The vertices an operator works on, in world space."""

    obj: bpy.types.Object
    indices: np.ndarray   # (N,) int, into obj.data.vertices
    start: np.ndarray     # (N, 3) world


@dataclass
class Problem:
    source: Source
    target: np.ndarray    # (N, 3) world
    breaking: Optional[state.OrderParameter]
    features: Any         # engine.Features
    config: Any           # engine.ModelConfig


def active_mesh(context: bpy.types.Context) -> bpy.types.Object:
    obj = context.active_object
    if obj is None:
        raise ValueError("No active object: select a mesh first")
    if obj.type != 'MESH':
        raise ValueError(f"Active object {obj.name!r} is a {obj.type.lower()}, not a mesh")
    return obj


def _finite(name: str, array: np.ndarray) -> None:
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} vertices with NaN or infinite coordinates")


def source(context: bpy.types.Context) -> Source:
    """The selected vertices of the active mesh (edit mode), or all of them (object mode)."""
    obj = active_mesh(context)
    mesh.sync_edit_mode(obj)
    count = len(obj.data.vertices)
    if obj.mode == 'EDIT':
        indices = np.flatnonzero(mesh.selection(obj.data))
        if len(indices) == 0:
            raise ValueError(f"Nothing selected: select vertices of {obj.name!r} in Edit Mode")
    else:
        if not obj.select_get():
            raise ValueError(f"Nothing selected: select {obj.name!r}")
        indices = np.arange(count)
    if len(indices) < 2:
        raise ValueError(f"{obj.name!r}: need at least 2 vertices, got {len(indices)}")
    start = mesh.world_positions(obj)[indices]
    _finite(f"{obj.name!r}", start)
    return Source(obj, indices, start)


def target(src: Source) -> np.ndarray:
    """World target positions for the source vertices, from the object's target settings."""
    obj, state = src.obj, src.obj.symbreak
    if state.target_mode == 'SHAPE_KEY':
        name = state.target_shape_key
        if name not in mesh.shape_key_names(obj):
            raise ValueError(f"{obj.name!r} has no shape key {name!r} to use as target")
        world = mesh.to_world(obj, mesh.shape_key_positions(obj, name))[src.indices]
    elif state.target_mode == 'OBJECT':
        other = state.target_object
        if other is None or other.type != 'MESH':
            raise ValueError(f"{obj.name!r}: choose a target mesh")
        other_count, count = len(other.data.vertices), len(obj.data.vertices)
        if other_count != count:
            raise ValueError(f"Target {other.name!r} has {other_count} vertices, "
                             f"but {obj.name!r} has {count}")
        world = mesh.world_positions(other)[src.indices]
    else:
        from ..engine import TASKS
        task = TASKS[state.task]
        if len(task.start) != len(src.indices):
            raise ValueError(f"Task {state.task!r} has {len(task.start)} points, "
                             f"but {len(src.indices)} vertices are selected")
        world = src.start + (np.asarray(task.target) - np.asarray(task.start))
    _finite("Target", world)
    return world


def breaking(src: Source) -> Optional[state.OrderParameter]:
    """The object's symmetry-breaking input, or None when it has none (yet)."""
    from ..engine import signals

    obj, s = src.obj, src.obj.symbreak
    if s.breaking == 'NONE':
        return None
    if s.breaking == 'L2':
        if s.axis_a == s.axis_b:
            raise ValueError(f"Axis A and Axis B are both {s.axis_a}: an L=2 order parameter "
                             "needs two different axes")
        c = signals.breaking_feature(axis_a=AXIS_VECTORS[s.axis_a], axis_b=AXIS_VECTORS[s.axis_b])
        return state.OrderParameter(2, c, f"L=2, even, ∝ {s.axis_a.lower()}² − {s.axis_b.lower()}²")
    if s.breaking == 'ORDER_PARAMETER':  # None until Use Order Parameter stores one
        return state.order_parameter(obj)
    if s.breaking == 'LEARNED':  # None until Learn Order Parameter stores one
        return state.learned_order_parameter(obj)
    weights = mesh.vertex_weights(obj, s.vertex_group)[src.indices]
    return state.OrderParameter(0, weights[:, None], f"L=0, the weights of vertex group {s.vertex_group!r}")


def features(n: int, extra: Optional[state.OrderParameter]) -> Any:
    """Input features of ``n`` vertices: the scalar 1, plus the symmetry-breaking input if any."""
    from ..engine import Features

    if extra is None:
        return Features.scalar(n)
    if extra.is_global:
        return Features(irreps=f"0e+{extra.irreps}",
                        values=np.concatenate([np.ones((n, 1)), np.tile(extra.coefficients, (n, 1))], axis=1))
    # per vertex: only a vertex group's weights, of degree 0
    return Features(irreps="0e+0e", values=np.concatenate([np.ones((n, 1)), extra.coefficients], axis=1))


def config(context: bpy.types.Context) -> Any:
    from ..engine import ModelConfig

    t = context.scene.symbreak.training
    return ModelConfig(lmax=t.lmax, layers=t.layers, max_radius=t.max_radius,
                       radius=t.radius if t.use_radius_graph else None, output=t.output)


def config_dict(context: bpy.types.Context) -> dict[str, Any]:
    t = context.scene.symbreak.training
    return {"lmax": t.lmax, "layers": t.layers, "max_radius": t.max_radius,
            "radius": t.radius if t.use_radius_graph else None, "output": t.output,
            "iterations": t.iterations, "lr": t.learning_rate, "seed": t.seed}


def problem(context: bpy.types.Context) -> Problem:
    src = source(context)
    extra = breaking(src)
    return Problem(src, target(src), extra, features(len(src.indices), extra), config(context))


def stored_prediction_owner(context: bpy.types.Context) -> Optional[bpy.types.Object]:
    """The active object, or the source object of an active signals/ghosts object."""
    obj = context.active_object
    if obj is not None and obj.parent is not None and obj.symbreak.role != 'SOURCE':
        return obj.parent
    return obj
