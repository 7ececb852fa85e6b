# SPDX-License-Identifier: GPL-3.0-or-later
"""F-curves and keyframes: where an ID's curves live, held (constant) keys, visibility over frame
ranges, and the frames at which anything animated changes."""

from __future__ import annotations

from typing import Any, Iterable

import bpy


def fcurves(id_data: Any) -> Any:
    """The F-curves of an ID's action (layered actions in Blender ≥ 4.4, plain before); () if none."""
    anim = id_data.animation_data
    if anim is None or anim.action is None:
        return ()
    action = anim.action
    if hasattr(action, "fcurves") and not hasattr(anim, "action_slot"):
        return action.fcurves
    from bpy_extras import anim_utils
    bag = anim_utils.action_get_channelbag_for_slot(action, anim.action_slot)
    return bag.fcurves if bag is not None else ()


def hold_keys(id_data: Any, data_path: str = "") -> None:
    """Make the keys of ``id_data`` (those of ``data_path`` only, when given) constant: each value
    holds until the next key."""
    for fcurve in fcurves(id_data):
        if not data_path or fcurve.data_path == data_path:
            for point in fcurve.keyframe_points:
                point.interpolation = 'CONSTANT'


def clear_keys(id_data: Any, data_path: str) -> None:
    """Remove the F-curves of ``data_path`` from an ID's action."""
    curves = fcurves(id_data)
    for fcurve in [c for c in curves if c.data_path == data_path]:
        curves.remove(fcurve)


def key_visible(obj: bpy.types.Object, ranges: Iterable[tuple[int, int]]) -> None:
    """Show ``obj`` only within the inclusive frame ranges (held keys on ``hide_render`` and
    ``hide_viewport``); hidden before, between and after them."""
    spans = list(ranges)
    clear_keys(obj, "hide_render")
    clear_keys(obj, "hide_viewport")

    def shown(frame: int) -> bool:
        return any(first <= frame <= last for first, last in spans)

    for frame in sorted({0} | {first for first, _ in spans} | {last + 1 for _, last in spans}):
        obj.hide_render = obj.hide_viewport = not shown(frame)
        obj.keyframe_insert("hide_render", frame=frame)
        obj.keyframe_insert("hide_viewport", frame=frame)
    hold_keys(obj, "hide_render")
    hold_keys(obj, "hide_viewport")


def animated_ids() -> list[Any]:
    """Every ID with an action: objects, shape keys, materials and their node trees, curves, cameras."""
    pools = (bpy.data.objects, bpy.data.shape_keys, bpy.data.materials, bpy.data.curves,
             bpy.data.cameras, bpy.data.meshes, bpy.data.worlds)
    found: list[Any] = []
    for pool in pools:
        for block in pool:
            anim = getattr(block, "animation_data", None)
            if anim is not None and anim.action is not None:
                found.append(block)
        if pool is bpy.data.materials:
            found += [m.node_tree for m in pool if m.node_tree is not None and m.node_tree.animation_data
                      and m.node_tree.animation_data.action is not None]
    return found


def changes(frame_start: int, frame_end: int, *, tolerance: float = 1e-7) -> list[int]:
    """The frames of ``frame_start..frame_end`` that differ from the frame before: the first frame,
    and every frame at which an F-curve's value moves by more than ``tolerance``. The frames in
    between repeat the last change, so they need not be rendered again."""
    curves = [c for block in animated_ids() for c in fcurves(block)]
    changed = [frame_start]
    for frame in range(frame_start + 1, frame_end + 1):
        if any(abs(c.evaluate(frame) - c.evaluate(frame - 1)) > tolerance for c in curves):
            changed.append(frame)
    return changed


def keyed_range() -> "tuple[int, int] | None":
    """The first and last keyed frame of every animated ID, or None when nothing is animated."""
    frames = [point.co[0] for block in animated_ids() for c in fcurves(block) for point in c.keyframe_points]
    return (int(min(frames)), int(max(frames))) if frames else None
