# SPDX-License-Identifier: GPL-3.0-or-later
"""The baked motion: start → predicted positions as shape keys and keyframes, ghosts travelling
to tied peaks, the target drawn as points, signal surfaces that follow, fade or stay."""

from __future__ import annotations

from typing import Iterable, Optional

import bpy
import numpy as np

from .. import mesh
from ..storage import StoredPrediction
from .keys import fcurves
from .objects import attach, child, remove_object
from .points import show_as_points
from .surfaces import SURFACE_VERTICES

MOTION_KEY = "SymBreak Motion"
MAX_GHOSTS = 1_000  # ghosts drawn at most; beyond it a scene slows down and says nothing more


def key_motion(block: bpy.types.ShapeKey, frame_start: int, frame_end: int, easing: str, *,
               again: Iterable[tuple[int, int, int]] = ()) -> None:
    """Keyframe a shape key's value 0 → 1 over the frame range with the chosen easing, and again
    for each ``(back, first, last)`` of ``again``: back to 0 at frame ``back`` (a cut), then
    0 → 1 over ``first..last``."""
    keys = block.id_data
    path = f'key_blocks["{block.name}"].value'
    for fcurve in list(fcurves(keys)):
        if fcurve.data_path == path:
            fcurves(keys).remove(fcurve)
    for back, first, last in [(frame_start, frame_start, frame_end), *again]:
        if back > frame_start:
            block.value = 1.0
            block.keyframe_insert("value", frame=back - 1)
        block.value = 0.0
        block.keyframe_insert("value", frame=back)
        block.keyframe_insert("value", frame=first)
        block.value = 1.0
        block.keyframe_insert("value", frame=last)
    for fcurve in fcurves(keys):
        if fcurve.data_path == path:
            for point in fcurve.keyframe_points:
                if easing == 'LINEAR':
                    point.interpolation = 'LINEAR'
                else:
                    point.interpolation = 'SINE'
                    point.easing = easing
            fcurve.update()


def _moving_points(name: str, start: np.ndarray, end: np.ndarray, edges: Optional[np.ndarray] = None) -> bpy.types.Object:
    data = mesh.new_mesh(name, start, edges=edges)
    obj = bpy.data.objects.new(name, data)
    mesh.set_shape_key(obj, MOTION_KEY, end)
    return obj


def animate(source: bpy.types.Object, p: StoredPrediction, *, frame_start: int, frame_end: int,
            easing: str, target: Optional[np.ndarray], show_ambiguous: bool,
            signals_motion: str, point_radius: float, again: tuple[tuple[int, int, int], ...] = (),
            colors: Optional[dict[str, bpy.types.Material]] = None) -> dict[str, int]:
    """Bake the motion start → predicted into shape keys and keyframes, in ``source``'s local
    coordinates (the prediction's and the ``target``'s).

    Vertices with a clear peak move to their predicted position. Ambiguous vertices (tied peaks)
    stay put, and a ghost travels from each towards every tied peak, so that no peak is chosen
    silently; at most :data:`MAX_GHOSTS` of them, the first in vertex order (``ghosts`` drawn
    and ``ghosts_left_out`` in the result). Signal surfaces follow their vertex, fade (shrink
    into it) or stay. The motion plays again for each ``(back, first, last)`` of ``again`` (see
    :func:`key_motion`); ``colors`` may give the materials of 'ghost' and 'target' (the shared
    ones by default).
    """
    colors = colors or {}
    moving = ~p.ambiguous
    end = mesh.positions(mesh.mesh_data(source))
    end[p.indices[moving]] = p.predicted[moving]
    block = mesh.set_shape_key(source, MOTION_KEY, end)
    block.slider_min, block.slider_max = 0.0, 1.0
    key_motion(block, frame_start, frame_end, easing, again=again)

    result = {"moving": int(moving.sum()), "ghosts": 0, "ghosts_left_out": 0}
    remove_object(child(source, 'GHOSTS'))
    if show_ambiguous and p.ambiguous.any():
        counts = np.array([len(k) for k in p.peaks])
        amb = np.flatnonzero(p.ambiguous)
        ghost_start = np.repeat(p.start[amb], counts[amb], axis=0)
        ghost_end = ghost_start + np.concatenate([np.asarray(p.peaks[i]).reshape(-1, 3) for i in amb])
        result["ghosts_left_out"] = max(len(ghost_start) - MAX_GHOSTS, 0)
        ghost_start, ghost_end = ghost_start[:MAX_GHOSTS], ghost_end[:MAX_GHOSTS]
        ghosts = attach(_moving_points(f"{source.name} Tied Peaks", ghost_start, ghost_end), source, 'GHOSTS')
        show_as_points(ghosts, point_radius * 0.8, 'ghost', colors.get('ghost'))
        ghost_keys = mesh.mesh_data(ghosts).shape_keys
        assert ghost_keys is not None  # made with a motion key
        key_motion(ghost_keys.key_blocks[MOTION_KEY], frame_start, frame_end, easing, again=again)
        result["ghosts"] = len(ghost_start)

    remove_object(child(source, 'TARGET'))
    if target is not None:
        edges = _edges_within(mesh.mesh_data(source), p.indices)
        data = mesh.new_mesh(f"{source.name} Target", target, edges=edges)
        target_obj = attach(bpy.data.objects.new(f"{source.name} Target", data), source, 'TARGET')
        show_as_points(target_obj, point_radius * 0.6, 'target', colors.get('target'))

    signals_obj = child(source, 'SIGNALS')
    if signals_obj is not None and signals_motion != 'STATIC':
        per = int(signals_obj.get(SURFACE_VERTICES, 0))
        if per and len(mesh.mesh_data(signals_obj).vertices) == per * len(p.indices):
            here = mesh.positions(mesh.mesh_data(signals_obj)).reshape(len(p.indices), per, 3)
            shift = np.where(moving[:, None], p.displacements, 0.0)
            if signals_motion == 'FOLLOW':
                there = here + shift[:, None, :]
            else:
                there = np.broadcast_to((p.start + shift)[:, None, :], here.shape)
            key = mesh.set_shape_key(signals_obj, MOTION_KEY, there.reshape(-1, 3))
            key_motion(key, frame_start, frame_end, easing, again=again)
    return result


def _edges_within(data: bpy.types.Mesh, indices: np.ndarray) -> np.ndarray:
    """Edges of ``data`` with both ends in ``indices``, renumbered into ``indices``."""
    edges = np.empty(len(data.edges) * 2, dtype=np.int32)
    data.edges.foreach_get("vertices", edges)
    edges = edges.reshape(-1, 2)
    where = np.full(len(data.vertices), -1)
    where[indices] = np.arange(len(indices))
    mapped = where[edges]
    return mapped[(mapped >= 0).all(axis=1)]
