# SPDX-License-Identifier: GPL-3.0-or-later
"""The stage: an orthographic camera looking straight down, framed to a box, plus light and world."""

from __future__ import annotations

import math
from typing import Iterable

import bpy
import numpy as np

from .. import mesh
from .materials import BACKGROUND

CAMERA = "SymBreak Camera"
SUN = "SymBreak Sun"


def content(scene: bpy.types.Scene) -> list[bpy.types.Object]:
    """Objects that will render: visible meshes, curves and texts."""
    return [o for o in scene.objects
            if o.type in {'MESH', 'FONT', 'CURVE'} and not o.hide_render and o.visible_get()]


def bounds(scene: bpy.types.Scene, objects: Iterable[bpy.types.Object], frames: Iterable[int]) -> np.ndarray:
    """World bounding-box corners ``(K, 3)`` of the evaluated objects over some frames."""
    current = scene.frame_current
    corners = []
    for frame in frames:
        scene.frame_set(frame)
        depsgraph = bpy.context.evaluated_depsgraph_get()
        for obj in objects:
            evaluated = obj.evaluated_get(depsgraph)
            corners.append(mesh.to_world(evaluated, np.array([tuple(c) for c in evaluated.bound_box])))
    scene.frame_set(current)
    return np.concatenate(corners) if corners else np.zeros((1, 3))


def top_camera(scene: bpy.types.Scene, center: Iterable[float], width: float, *, height: float = 50.0) -> bpy.types.Object:
    """Create or reuse the add-on's camera: orthographic, looking down −z from ``height`` above
    ``center`` ``(x, y)``, ``width`` world units across the frame (the larger side)."""
    cam = bpy.data.objects.get(CAMERA)
    if cam is None:
        cam = bpy.data.objects.new(CAMERA, bpy.data.cameras.new(CAMERA))
    if cam.name not in scene.objects:
        scene.collection.objects.link(cam)
    data: bpy.types.Camera = cam.data  # type: ignore[assignment]  # stubs: any object data
    x, y = list(center)[:2]
    data.type = 'ORTHO'
    data.sensor_fit = 'AUTO'
    render = scene.render
    aspect = render.resolution_x * render.pixel_aspect_x / (render.resolution_y * render.pixel_aspect_y)
    data.ortho_scale = width if aspect >= 1 else width / aspect
    data.clip_start, data.clip_end = 0.1, 2 * height
    cam.location = (x, y, height)
    cam.rotation_euler = (0.0, 0.0, 0.0)
    scene.camera = cam
    return cam


def frame_size(scene: bpy.types.Scene) -> tuple[float, float]:
    """The camera's frame ``(width, height)`` in world units."""
    camera = scene.camera
    if camera is None or not isinstance(camera.data, bpy.types.Camera):
        raise RuntimeError(f"Scene {scene.name!r} has no camera")
    render = scene.render
    aspect = render.resolution_x * render.pixel_aspect_x / (render.resolution_y * render.pixel_aspect_y)
    scale = camera.data.ortho_scale
    return (scale, scale / aspect) if aspect >= 1 else (scale * aspect, scale)


def camera(scene: bpy.types.Scene, *, margin: float = 1.08, frames: Iterable[int] = ()) -> bpy.types.Object:
    """:func:`top_camera` framed to everything that renders over ``frames`` (the scene's first
    and last by default), with a ``margin``."""
    frames = list(frames) or [scene.frame_start, scene.frame_end]
    points = bounds(scene, content(scene), frames)
    low, high = points.min(axis=0), points.max(axis=0)
    render = scene.render
    aspect = render.resolution_x * render.pixel_aspect_x / (render.resolution_y * render.pixel_aspect_y)
    w, h = margin * (high - low)[:2]
    width = max(w, h * aspect, 1e-3)  # the frame's width that holds both sides
    return top_camera(scene, 0.5 * (low + high), width, height=float(high[2]) + 50.0)


def lights_and_world(scene: bpy.types.Scene) -> None:
    """A sun for EEVEE and Cycles, the dark background, flat Workbench light."""
    sun = bpy.data.objects.get(SUN)
    if sun is None:
        data: bpy.types.SunLight = bpy.data.lights.new(SUN, 'SUN')  # type: ignore[assignment]  # stubs: base Light
        data.energy = 3.0
        data.angle = math.radians(10)
        sun = bpy.data.objects.new(SUN, data)
        sun.rotation_euler = (math.radians(25), math.radians(-15), math.radians(20))
    if sun.name not in scene.objects:
        scene.collection.objects.link(sun)
    world = scene.world or bpy.data.worlds.new("SymBreak World")
    scene.world = world
    world.color = BACKGROUND
    tree = world.node_tree
    if tree is not None:
        background = next((n for n in tree.nodes if n.type == 'BACKGROUND'), None)
        if background is not None:  # (the stubs type inputs as the base NodeSocket, with no default_value)
            background.inputs["Color"].default_value = (*BACKGROUND, 1.0)  # type: ignore[attr-defined]
            background.inputs["Strength"].default_value = 1.0  # type: ignore[attr-defined]
