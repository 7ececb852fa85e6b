# SPDX-License-Identifier: GPL-3.0-or-later
"""Render setup: a camera framed to the content, light, background, engine and MP4 output."""

from __future__ import annotations

import math
import os
import tempfile
from typing import Any, Iterable

import bpy
import numpy as np

from . import mesh

CAMERA = "SymBreak Camera"
SUN = "SymBreak Sun"
BACKGROUND = (0.035, 0.037, 0.045)
ENGINES = {'WORKBENCH': 'BLENDER_WORKBENCH', 'EEVEE': 'BLENDER_EEVEE', 'CYCLES': 'CYCLES'}


def engine_id(choice: str) -> str:
    """The render engine identifier in this Blender (EEVEE was 'BLENDER_EEVEE_NEXT' in 4.2–4.4)."""
    if choice == 'EEVEE':
        engine = bpy.types.RenderSettings.bl_rna.properties['engine']
        items = {e.identifier for e in engine.enum_items}  # type: ignore[attr-defined]  # stubs: base Property
        return 'BLENDER_EEVEE' if 'BLENDER_EEVEE' in items else 'BLENDER_EEVEE_NEXT'
    return ENGINES[choice]


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


def camera(scene: bpy.types.Scene, *, tilt_degrees: float = 28.0, margin: float = 1.12,
           frames: Iterable[int] = ()) -> bpy.types.Object:
    """Create or reuse the add-on's camera, tilted over the XY plane, framed to all content."""
    cam = bpy.data.objects.get(CAMERA)
    if cam is None:
        data = bpy.data.cameras.new(CAMERA)
        cam = bpy.data.objects.new(CAMERA, data)
        scene.collection.objects.link(cam)
    elif cam.name not in scene.objects:
        scene.collection.objects.link(cam)
    cam.data.lens = 50.0
    cam.data.clip_end = 1000.0
    cam.rotation_euler = (math.radians(tilt_degrees), 0.0, 0.0)
    scene.camera = cam
    frames = list(frames) or [scene.frame_start, scene.frame_end]
    points = bounds(scene, content(scene), frames)
    center = 0.5 * (points.min(axis=0) + points.max(axis=0))
    points = center + margin * (points - center)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    location, _scale = cam.camera_fit_coords(depsgraph, points.ravel().tolist())
    cam.location = location
    return cam


def lights_and_world(scene: bpy.types.Scene) -> None:
    sun = bpy.data.objects.get(SUN)
    if sun is None:
        data: bpy.types.SunLight = bpy.data.lights.new(SUN, 'SUN')  # type: ignore[assignment]  # stubs: base Light
        data.energy = 3.0
        data.angle = math.radians(10)
        sun = bpy.data.objects.new(SUN, data)
        sun.rotation_euler = (math.radians(35), math.radians(-25), math.radians(20))
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


def configure(scene: bpy.types.Scene, settings: Any, filepath: str) -> None:
    """Engine, resolution, frame rate and MP4 (H.264) output from the render settings group."""
    render = scene.render
    render.engine = engine_id(settings.engine)  # type: ignore[assignment]  # ids differ across versions
    if settings.resolution != 'SCENE':
        w, h = (int(v) for v in settings.resolution.split("x"))
        render.resolution_x, render.resolution_y = w, h
    render.resolution_percentage = 100
    render.fps, render.fps_base = int(settings.fps), 1.0
    if settings.duration > 0:
        scene.frame_end = scene.frame_start + max(1, round(settings.duration * render.fps)) - 1
    shading = scene.display.shading
    shading.light = 'STUDIO'
    shading.color_type = 'VERTEX'  # the signals' colour attribute; others fall back to materials
    shading.show_specular_highlight = True
    scene.display.render_aa = '5'  # 8 samples cost 50 % more for little gain on a CPU
    if render.engine == 'CYCLES':
        scene.cycles.samples = settings.samples
        scene.cycles.device = 'CPU'
    elif render.engine != 'BLENDER_WORKBENCH':
        scene.eevee.taa_render_samples = settings.samples
    scene.view_settings.view_transform = 'Standard'
    render.film_transparent = False
    video_output(scene, filepath)


def video_output(scene: bpy.types.Scene, filepath: str) -> None:
    settings = scene.render.image_settings
    if hasattr(settings, "media_type"):  # Blender ≥ 5.0: choose video before the container
        settings.media_type = 'VIDEO'
    settings.file_format = 'FFMPEG'
    ffmpeg = scene.render.ffmpeg
    ffmpeg.format = 'MPEG4'
    ffmpeg.codec = 'H264'
    ffmpeg.constant_rate_factor = 'HIGH'
    ffmpeg.ffmpeg_preset = 'GOOD'
    ffmpeg.audio_codec = 'NONE'
    scene.render.filepath = filepath
    scene.render.use_file_extension = False


def contact_sheet(scene: bpy.types.Scene, frames: list[int], filepath: str, *, columns: int = 3,
                  scale: float = 0.5) -> str:
    """Render still frames and tile them into one PNG. Restores the output settings."""
    render = scene.render
    saved = (render.filepath, render.resolution_percentage, render.use_file_extension,
             render.image_settings.file_format, scene.frame_current,
             getattr(render.image_settings, "media_type", None))
    tiles = []
    with tempfile.TemporaryDirectory() as tmp:
        if saved[5] is not None:
            render.image_settings.media_type = 'IMAGE'
        render.image_settings.file_format = 'PNG'
        render.resolution_percentage = max(1, int(100 * scale))
        render.use_file_extension = True
        for i, frame in enumerate(frames):
            scene.frame_set(frame)
            render.filepath = os.path.join(tmp, f"frame{i:03d}.png")
            bpy.ops.render.render(write_still=True)
            image = bpy.data.images.load(render.filepath)
            w: int
            h: int
            w, h = image.size  # type: ignore[misc]  # stubs: bpy_prop_array is iterable
            pixels = np.empty(w * h * 4, dtype=np.float32)
            image.pixels.foreach_get(pixels)
            tiles.append(pixels.reshape(h, w, 4))
            bpy.data.images.remove(image)
    render.resolution_percentage = saved[1]
    if saved[3] == 'FFMPEG':
        video_output(scene, saved[0])
    else:
        if saved[5] is not None:
            render.image_settings.media_type = saved[5]
        render.image_settings.file_format = saved[3]
    render.filepath, render.use_file_extension = saved[0], saved[2]
    scene.frame_set(saved[4])
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    gap = 4
    sheet = np.ones(((h + gap) * rows - gap, (w + gap) * columns - gap, 4), dtype=np.float32)
    sheet[..., :3] = 0.0
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        y0 = (rows - 1 - r) * (h + gap)  # Blender images start at the bottom row
        sheet[y0:y0 + h, c * (w + gap):c * (w + gap) + w] = tile
    image = bpy.data.images.new("SymBreak Contact Sheet", sheet.shape[1], sheet.shape[0], alpha=True)
    image.pixels.foreach_set(sheet.ravel())  # type: ignore[arg-type]  # stubs: any buffer works
    image.filepath_raw = filepath
    image.file_format = 'PNG'
    image.save()
    bpy.data.images.remove(image)
    return filepath
