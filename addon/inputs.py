# SPDX-License-Identifier: GPL-3.0-or-later
"""Turn the scene into an engine problem: source, target, features and network settings.

SymBreak works in the active object's own (local) coordinates: the source, the target (another
mesh is converted into this frame), axis pairs, presets and stored results are all in the object's
axes, and what it draws is parented to the object, so that moving, rotating or scaling the object
afterwards carries everything with it.

Every check on user input happens here, before anything in the scene changes. Errors are
``ValueError`` with a message fit for ``Operator.report``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import bpy
import numpy as np

from . import mesh, props, state

AXIS_VECTORS = {'X': (1.0, 0.0, 0.0), 'Y': (0.0, 1.0, 0.0), 'Z': (0.0, 0.0, 1.0)}


@dataclass
class Source:
    """The vertices an operator works on, in the object's local coordinates."""

    obj: bpy.types.Object
    indices: np.ndarray   # (N,) int, into obj.data.vertices
    start: np.ndarray     # (N, 3) local


@dataclass
class Problem:
    source: Source
    target: np.ndarray    # (N, 3) local
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


def check_transform(obj: bpy.types.Object) -> None:
    """``ValueError`` unless ``obj``'s transform can be inverted (no scale of 0 on an axis): a
    target object is converted into its frame, and its results are drawn in it."""
    if not np.linalg.cond(mesh.matrix(obj)[:3, :3]) < 1e12:
        raise ValueError(f"{obj.name!r} has a degenerate transform (a scale of 0 on some axis): "
                         "give it a non-zero scale first")


def _finite(name: str, array: np.ndarray) -> None:
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} vertices with NaN or infinite coordinates")


def source(context: bpy.types.Context) -> Source:
    """The selected vertices of the active mesh (edit mode), or all of them (object mode)."""
    obj = active_mesh(context)
    check_transform(obj)
    mesh.sync_edit_mode(obj)
    count = len(obj.data.vertices)
    if obj.mode == 'EDIT':
        indices = np.flatnonzero(mesh.selection(mesh.mesh_data(obj)))
        if len(indices) == 0:
            raise ValueError(f"Nothing selected: select vertices of {obj.name!r} in Edit Mode")
    else:
        if not obj.select_get():
            raise ValueError(f"Nothing selected: select {obj.name!r}")
        indices = np.arange(count)
    if len(indices) < 2:
        raise ValueError(f"{obj.name!r}: need at least 2 vertices, got {len(indices)}")
    start = mesh.positions(mesh.mesh_data(obj))[indices]
    _finite(f"{obj.name!r}", start)
    return Source(obj, indices, start)


def target(src: Source) -> np.ndarray:
    """Local target positions for the source vertices, from the object's target settings: a shape
    key of the object, another mesh (converted into the object's frame) or a preset's displacements
    along the object's axes."""
    obj, state = src.obj, props.object_settings(src.obj)
    if state.target_mode == 'SHAPE_KEY':
        name = state.target_shape_key
        if name not in mesh.shape_key_names(obj):
            raise ValueError(f"{obj.name!r} has no shape key {name!r} to use as target")
        local = mesh.shape_key_positions(obj, name)[src.indices]
    elif state.target_mode == 'OBJECT':
        other = state.target_object
        if other is None or other.type != 'MESH':
            raise ValueError(f"{obj.name!r}: choose a target mesh")
        other_count, count = len(other.data.vertices), len(obj.data.vertices)
        if other_count != count:
            raise ValueError(f"Target {other.name!r} has {other_count} vertices, "
                             f"but {obj.name!r} has {count}")
        local = mesh.positions_in(obj, other)[src.indices]
    else:
        from ..engine import TASKS
        task = TASKS[state.task]
        if len(task.start) != len(src.indices):
            raise ValueError(f"Task {state.task!r} has {len(task.start)} points, "
                             f"but {len(src.indices)} vertices are selected")
        local = src.start + (np.asarray(task.target) - np.asarray(task.start))
    _finite("Target", local)
    return local


def breaking(src: Source) -> Optional[state.OrderParameter]:
    """The object's symmetry-breaking input in its local axes, or None when it has none (yet)."""
    from ..engine import signals

    obj, s = src.obj, props.object_settings(src.obj)
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


MAX_SURFACE_VERTICES = 5_000_000


def check_surface_size(count: int, level: int) -> None:
    """``ValueError`` when ``count`` signal surfaces at Resolution ``level`` would have more than
    ``MAX_SURFACE_VERTICES`` vertices in all, naming the highest Resolution that fits."""
    from ..engine import signals

    def total(k: int) -> int:
        return count * len(signals.sphere_grid(k)[0])

    if total(level) > MAX_SURFACE_VERTICES:
        fits = [k for k in range(1, level) if total(k) <= MAX_SURFACE_VERTICES]
        how = (f"lower the signal Resolution to {fits[-1]}" if fits else
               "predict fewer vertices (select them in Edit Mode)")
        raise ValueError(f"{count} signal surfaces at Resolution {level} would have {total(level):,} vertices "
                         f"(at most {MAX_SURFACE_VERTICES:,}): {how}")


def features(n: int, extra: Optional[state.OrderParameter]) -> Any:
    """Input features of ``n`` vertices: the scalar 1, plus the symmetry-breaking input if any."""
    from ..engine import Features

    if extra is None:
        return Features.scalar(n)
    if extra.is_global:
        return Features.with_global(n, extra.irreps, extra.coefficients)
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
    if obj is not None and obj.parent is not None and props.object_settings(obj).role != 'SOURCE':
        return obj.parent
    return obj


def stored_prediction(context: bpy.types.Context) -> tuple[bpy.types.Object, state.StoredPrediction]:
    """The object whose stored prediction Show Signals and Animate draw, and that prediction."""
    obj = stored_prediction_owner(context)
    if obj is None:
        raise ValueError("No active object: select a trained mesh")
    if obj.type != 'MESH':
        raise ValueError(f"Active object {obj.name!r} is a {obj.type.lower()}, not a mesh")
    if not state.has_prediction(obj):
        raise ValueError(f"{obj.name!r} has no prediction: Train or Predict first")
    check_transform(obj)
    p = state.prediction(obj)
    mesh.sync_edit_mode(obj)
    if len(p.indices) and p.indices.max() >= len(obj.data.vertices):
        raise ValueError(f"{obj.name!r} changed since the prediction: Predict again")
    return obj, p
