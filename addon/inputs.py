# SPDX-License-Identifier: GPL-3.0-or-later
"""Turn the scene into an engine problem: source, target, symmetry-breaking input and settings.

SymBreak works in the active object's own (local) coordinates: the source, the target (another
mesh is converted into this frame), axis pairs, presets and stored results are all in the object's
axes, and what it draws is parented to the object, so that moving, rotating or scaling the object
afterwards carries everything with it.

Every check on user input happens here, before anything in the scene changes. Errors are
``ValueError`` with a message fit for ``Operator.report``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Optional

import bpy
import numpy as np

from ..engine import api
from . import mesh, props, storage
from .build import animation as build_animation
from .build import keys as build_keys

AXIS_VECTORS = {'X': (1.0, 0.0, 0.0), 'Y': (0.0, 1.0, 0.0), 'Z': (0.0, 0.0, 1.0)}


@dataclass(frozen=True)
class Source:
    """The vertices an operator works on, in the object's local coordinates, their types and
    what the mesh was when they were read (its vertex count and a fingerprint of all its positions)."""

    obj: bpy.types.Object
    indices: np.ndarray   # (N,) int, into obj.data.vertices
    start: np.ndarray     # (N, 3) local
    vertex_count: int
    fingerprint: str
    types: Optional[np.ndarray] = None  # (N,) int from the Types attribute; None: untyped


@dataclass(frozen=True)
class Problem:
    """What Train, Analyze Symmetry and Learn hand to a job: plain data only."""

    start: np.ndarray     # (N, 3) local
    target: np.ndarray    # (N, 3) local
    config: api.ModelConfig
    order_parameter: Optional[api.OrderParameter]
    types: Optional[np.ndarray] = None  # (N,) int; None: untyped


def active_mesh(context: bpy.types.Context) -> bpy.types.Object:
    obj = context.active_object
    if obj is None:
        raise ValueError("No active object: select a mesh first")
    if obj.type != 'MESH':
        raise ValueError(f"Active object {obj.name!r} is a {obj.type.lower()}, not a mesh")
    return obj


def check_editable(obj: bpy.types.Object) -> None:
    """``ValueError`` when ``obj`` or its mesh is linked from a library and cannot be changed:
    what SymBreak stores there would be lost when the file is saved."""
    for what, data in (("object", obj), ("mesh", obj.data)):
        if data is not None and not data.is_editable:
            where = f" from {data.library.filepath!r}" if data.library is not None else ""
            raise ValueError(f"{obj.name!r}: its {what} is linked{where} and cannot be changed; make it "
                             "local or add a library override (Object ▸ Library Override) first")


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
    """The selected vertices of the active mesh (edit mode), or all of them (object mode), with
    their types when the mesh has the object's Types attribute."""
    obj = active_mesh(context)
    check_transform(obj)
    mesh.sync_edit_mode(obj)
    data = mesh.mesh_data(obj)
    if obj.mode == 'EDIT':
        indices = np.flatnonzero(mesh.selection(data))
        if len(indices) == 0:
            raise ValueError(f"Nothing selected: select vertices of {obj.name!r} in Edit Mode")
    else:
        if not obj.select_get():
            raise ValueError(f"Nothing selected: select {obj.name!r}")
        indices = np.arange(len(data.vertices))
    if len(indices) < 2:
        raise ValueError(f"{obj.name!r}: need at least 2 vertices, got {len(indices)}")
    everything = mesh.positions(data)
    start = everything[indices]
    _finite(f"{obj.name!r}", start)
    types = mesh.vertex_integers(data, props.object_settings(obj).types_attribute)
    return Source(obj, indices, start, len(everything), mesh.fingerprint(everything),
                  None if types is None else types[indices])


def target(src: Source) -> np.ndarray:
    """Local target positions for the source vertices, from the object's target settings: a shape
    key of the object, another mesh (converted into the object's frame) or a preset's displacements
    along the object's axes."""
    obj, own = src.obj, props.object_settings(src.obj)
    if own.target_mode == 'SHAPE_KEY':
        check_target_shape_key(obj)
        local = mesh.shape_key_positions(obj, own.target_shape_key)[src.indices]
    elif own.target_mode == 'OBJECT':
        other = own.target_object
        if other is None or other.type != 'MESH':
            raise ValueError(f"{obj.name!r}: choose a target mesh")
        if other == obj:
            raise ValueError(f"{obj.name!r} is its own target object, so nothing would move: choose another mesh")
        other_count = len(mesh.mesh_data(other).vertices)
        if other_count != src.vertex_count:
            raise ValueError(f"Target {other.name!r} has {other_count} vertices, "
                             f"but {obj.name!r} has {src.vertex_count}")
        local = mesh.positions_in(obj, other)[src.indices]
    else:
        task = api.TASKS[own.task]
        if len(task.start) != len(src.indices):
            raise ValueError(f"Task {own.task!r} has {len(task.start)} points, "
                             f"but {len(src.indices)} vertices are selected")
        local = src.start + (np.asarray(task.target) - np.asarray(task.start))
    _finite("Target", local)
    return local


def target_keys(obj: bpy.types.Object) -> list[str]:
    """The names of ``obj``'s shape keys that can hold a target: all but the basis and the motion
    key Animate writes."""
    keys = mesh.mesh_data(obj).shape_keys
    if keys is None:
        return []
    return [k.name for k in keys.key_blocks if k != keys.reference_key and k.name != build_animation.MOTION_KEY]


def check_target_shape_key(obj: bpy.types.Object) -> None:
    """``ValueError`` unless ``obj``'s target Shape Key names one of :func:`target_keys`, saying
    which keys there are to choose from (Blender names new ones 'Key 1', 'Key 2', …)."""
    name, choices = props.object_settings(obj).target_shape_key, target_keys(obj)
    if name in choices:
        return
    keys = mesh.mesh_data(obj).shape_keys
    if not choices:
        have = f"only its basis key {keys.reference_key.name!r}" if keys is not None else "no shape keys"
        raise ValueError(f"{obj.name!r} has {have}: add a shape key (Object Data ▸ Shape Keys ▸ +), shape it "
                         "into the target and choose it as the target Shape Key")
    listed = ", ".join(repr(k) for k in choices)
    if keys is not None and name == keys.reference_key.name:
        raise ValueError(f"{name!r} is the basis key of {obj.name!r}, the start itself: choose the key that "
                         f"holds the target ({listed})")
    if name == build_animation.MOTION_KEY:
        raise ValueError(f"{name!r} is the motion Animate writes, not a target: choose the target Shape Key "
                         f"among {listed}")
    raise ValueError(f"{obj.name!r} has no shape key {name!r}: choose the target Shape Key among {listed}")


def target_doubt(src: Source, local: np.ndarray) -> str:
    """One sentence when the target ``local`` looks like a trap, else "" (:func:`api.check_pairing`):
    a target where the start is (nothing moves); a target key that deforms the mesh now (it shows
    the target, not the start); a target object whose pairing by vertex index looks wrong (offset,
    another shape or pose, another vertex order)."""
    obj, own = src.obj, props.object_settings(src.obj)
    if own.target_mode == 'TASK':
        return ""
    pairing = api.check_pairing(src.start, local)
    if own.target_mode == 'SHAPE_KEY':
        name = own.target_shape_key
        if pairing.still:
            return (f"Shape key {name!r} is where the basis is, so nothing moves: shape it into the target first "
                    "(Edit Mode with the key active)")
        keys = mesh.mesh_data(obj).shape_keys
        block = keys.key_blocks.get(name) if keys is not None else None
        if block is None or block.mute or abs(block.value) < 1e-6:
            return ""
        return (f"Shape key {name!r} is at value {block.value:.2g}, so {obj.name!r} shows its target rather "
                "than its start: set the value to 0 to see what the network moves (Animate needs it at 0)")
    other = own.target_object
    found = pairing.warnings(start=repr(obj.name), target=repr(other.name))
    if not found:
        return ""
    keys = mesh.mesh_data(other).shape_keys
    unapplied = ((keys is not None and len(keys.key_blocks) > 1) or any(m.show_viewport for m in other.modifiers))
    why = f" ({other.name!r} is read without its shape keys and modifiers: apply them first)" if unapplied else ""
    if pairing.still:
        return f"Target {other.name!r} is where {obj.name!r} is, so nothing moves{why}"
    return (f"Target {other.name!r} is paired with {obj.name!r} by vertex index, each vertex where it is in the "
            f"scene, but {'; '.join(found)}{why}. Make the target from a copy of {obj.name!r} placed over it, "
            "or use a shape key")


def breaking(src: Source) -> Optional[api.OrderParameter]:
    """The object's symmetry-breaking input in its local axes, or None when it has none (yet)."""
    obj, own = src.obj, props.object_settings(src.obj)
    if own.breaking == 'NONE':
        return None
    if own.breaking == 'AXIS_PAIR':
        if own.axis_a == own.axis_b:
            raise ValueError(f"Axis A and Axis B are both {own.axis_a}: an axis pair needs two different axes")
        return api.axis_pair(AXIS_VECTORS[own.axis_a], AXIS_VECTORS[own.axis_b])
    if own.breaking == 'ORDER_PARAMETER':  # None until Use Order Parameter stores one
        return storage.order_parameter(obj)
    if own.breaking == 'LEARNED':  # None until Learn Order Parameter stores one
        return storage.learned_order_parameter(obj)
    weights = mesh.vertex_weights(obj, own.vertex_group)[src.indices]
    return api.OrderParameter(blocks={0: weights[:, None]}, origin='vertex group',
                              description=f"L=0, the weights of vertex group {own.vertex_group!r}")


MAX_SURFACE_VERTICES = 5_000_000


def check_surface_size(count: int, level: int) -> None:
    """``ValueError`` when ``count`` signal surfaces at Resolution ``level`` would have more than
    ``MAX_SURFACE_VERTICES`` vertices in all, naming the highest Resolution that fits."""
    def total(k: int) -> int:
        return count * api.sphere_vertex_count(k)

    if total(level) > MAX_SURFACE_VERTICES:
        fits = [k for k in range(1, level) if total(k) <= MAX_SURFACE_VERTICES]
        how = (f"lower the signal Resolution to {fits[-1]}" if fits else
               "predict fewer vertices (select them in Edit Mode)")
        raise ValueError(f"{count} signal surfaces at Resolution {level} would have {total(level):,} vertices "
                         f"(at most {MAX_SURFACE_VERTICES:,}): {how}")


def check_other_shape_keys(obj: bpy.types.Object, frame: int) -> None:
    """``ValueError`` naming the shape keys of ``obj``, other than its basis and the motion key,
    that deform it at ``frame`` (a target key left at 1.0 to preview it, a renamed motion key):
    Animate's motion would show on top of theirs."""
    keys = mesh.mesh_data(obj).shape_keys
    if keys is None:
        return
    curves = {curve.data_path: curve for curve in build_keys.fcurves(keys)}
    moving = []
    for block in keys.key_blocks:
        if block == keys.reference_key or block.name == build_animation.MOTION_KEY or block.mute:
            continue
        curve = curves.get(f'key_blocks["{block.name}"].value')
        value = curve.evaluate(frame) if curve is not None else block.value
        if abs(value) > 1e-6:
            moving.append(f"{block.name!r} (value {value:.2g})")
    if moving:
        one = len(moving) == 1
        raise ValueError(f"Shape key{'' if one else 's'} {', '.join(moving)} also deform{'s' if one else ''} "
                         f"{obj.name!r} at frame {frame}, so the motion would show on top: set "
                         f"{'its' if one else 'their'} value to 0 (or mute or delete {'it' if one else 'them'})")


def finite_setting(name: str, value: float) -> float:
    """``value``, or ``ValueError`` naming the setting when it is NaN or infinite (Blender's
    float properties accept NaN from scripts)."""
    if not math.isfinite(value):
        raise ValueError(f"{name} is {value}: set it to a finite number")
    return float(value)


def settings(context: bpy.types.Context) -> dict[str, Any]:
    """The training settings as plain values (kept with the model), checked to be finite."""
    t = props.settings(context).training
    return {"lmax": t.lmax, "layers": t.layers, "channels": t.channels or None, "graph": t.graph, "radius": finite_setting("Radius", t.radius) if t.graph == 'RADIUS' else None,
            "hub": t.hub, "output": t.output,
            "iterations": t.iterations or None, "lr": finite_setting("Learning Rate", t.learning_rate), "seed": t.seed}


def config(values: dict[str, Any]) -> api.ModelConfig:
    """The network settings of :func:`settings`."""
    return api.ModelConfig(lmax=values["lmax"], layers=values["layers"], channels=values["channels"],
                           radius=values["radius"], hub=values["hub"], output=values["output"])


def with_graph(problem: Problem, graph: str) -> Problem:
    """In a job: ``problem`` with its graph chosen; graph 'AUTO' takes ``api.automatic_radius``."""
    if graph != 'AUTO':
        return problem
    radius = api.automatic_radius(problem.start)
    return dataclasses.replace(problem, config=dataclasses.replace(problem.config, radius=radius))


def problem(src: Source, values: dict[str, Any]) -> Problem:
    """The problem of ``src`` with the network settings of :func:`settings`."""
    return Problem(src.start, target(src), config(values), breaking(src), src.types)


def stored_prediction_owner(context: bpy.types.Context) -> Optional[bpy.types.Object]:
    """The active object, or the source object of an active signals/ghosts object."""
    obj = context.active_object
    if obj is not None and obj.parent is not None and props.object_settings(obj).role != 'SOURCE':
        return obj.parent
    return obj


def stored_prediction(context: bpy.types.Context) -> tuple[bpy.types.Object, storage.StoredPrediction]:
    """The object whose stored prediction Show Signals and Animate draw, and that prediction,
    which must have been made on the mesh as it is now (same vertex count and positions)."""
    obj = stored_prediction_owner(context)
    if obj is None:
        raise ValueError("No active object: select a trained mesh")
    if obj.type != 'MESH':
        raise ValueError(f"Active object {obj.name!r} is a {obj.type.lower()}, not a mesh")
    if not storage.has_prediction(obj):
        raise ValueError(f"{obj.name!r} has no prediction: Train or Predict first")
    check_transform(obj)
    p = storage.prediction(obj)
    mesh.sync_edit_mode(obj)
    now = mesh.positions(mesh.mesh_data(obj))
    if len(now) != p.vertex_count:
        raise ValueError(f"{obj.name!r} has {len(now)} vertices, but the prediction was made on "
                         f"{p.vertex_count}: Predict again")
    if mesh.fingerprint(now) != p.fingerprint:
        raise ValueError(f"{obj.name!r}'s vertices moved since the prediction: Predict again")
    return obj, p
