# SPDX-License-Identifier: GPL-3.0-or-later
"""Render settings, MP4 output and the fast render: every frame that changes is rendered once, as
a PNG, and the encoder shows it for as long as it lasts (Blender's sequencer assembles the MP4)."""

from __future__ import annotations

import os
import tempfile
from typing import Any, Iterable

import bpy
import numpy as np

from .keys import changes

ENGINES = {'WORKBENCH': 'BLENDER_WORKBENCH', 'EEVEE': 'BLENDER_EEVEE', 'CYCLES': 'CYCLES'}
EDIT_SCENE = "SymBreak Edit"


def engine_id(choice: str) -> str:
    """The render engine identifier in this Blender (EEVEE was 'BLENDER_EEVEE_NEXT' in 4.2–4.4)."""
    if choice == 'EEVEE':
        engine = bpy.types.RenderSettings.bl_rna.properties['engine']
        items = {e.identifier for e in engine.enum_items}  # type: ignore[attr-defined]  # stubs: base Property
        return 'BLENDER_EEVEE' if 'BLENDER_EEVEE' in items else 'BLENDER_EEVEE_NEXT'
    return ENGINES[choice]


def configure(scene: bpy.types.Scene, settings: Any, filepath: str) -> None:
    """Engine, resolution, frame rate and MP4 (H.264) output from the render settings group
    (``engine``, ``resolution`` 'WxH' or 'SCENE', ``fps``, ``duration``, ``samples``)."""
    render = scene.render
    render.engine = engine_id(settings.engine)  # type: ignore[assignment]  # ids differ across versions
    if settings.resolution != 'SCENE':
        w, h = (int(v) for v in settings.resolution.split("x"))
        render.resolution_x, render.resolution_y = w, h
    render.resolution_percentage = 100
    render.fps, render.fps_base = int(settings.fps), 1.0
    if settings.duration > 0:
        scene.frame_end = scene.frame_start + max(1, round(settings.duration * render.fps)) - 1
    display, eevee, view = scene.display, scene.eevee, scene.view_settings
    assert display is not None and display.shading is not None and eevee is not None and view is not None
    shading = display.shading
    shading.light = 'FLAT'  # a diagram seen from above: colours exactly as chosen
    shading.color_type = 'MATERIAL'
    shading.show_object_outline = False
    display.render_aa = '5'
    if render.engine == 'CYCLES':
        scene.cycles.samples = settings.samples
        scene.cycles.device = 'CPU'
    elif render.engine != 'BLENDER_WORKBENCH':
        eevee.taa_render_samples = settings.samples
    view.view_transform = 'Standard'  # type: ignore[assignment]  # stubs list only 'NONE'
    render.film_transparent = False
    video_output(scene, filepath)


def video_output(scene: bpy.types.Scene, filepath: str) -> None:
    """MP4 (H.264) to ``filepath``; in Blender ≥ 5.0 the media type is chosen before the container."""
    settings = scene.render.image_settings
    if hasattr(settings, "media_type"):
        settings.media_type = 'VIDEO'
    settings.file_format = 'FFMPEG'
    ffmpeg = scene.render.ffmpeg
    assert ffmpeg is not None  # every scene's render settings have one
    ffmpeg.format = 'MPEG4'
    ffmpeg.codec = 'H264'
    ffmpeg.constant_rate_factor = 'HIGH'
    ffmpeg.ffmpeg_preset = 'GOOD'
    ffmpeg.audio_codec = 'NONE'
    scene.render.filepath = filepath
    scene.render.use_file_extension = False


def _image_output(scene: bpy.types.Scene) -> None:
    settings = scene.render.image_settings
    if hasattr(settings, "media_type"):
        settings.media_type = 'IMAGE'
    settings.file_format = 'PNG'
    settings.color_mode = 'RGB'
    settings.compression = 15  # fast to write; these files are temporary


def render_stills(scene: bpy.types.Scene, frames: list[int], folder: str, *, glimpse: int = 0) -> dict[int, str]:
    """Render each frame once to ``folder/frameNNNNN.png``; runs of consecutive frames render
    as one animation job. A frame seen for fewer than ``glimpse`` frames (it changes again
    sooner, as in a motion) renders without antialiasing, about four times faster in Workbench.
    Restores the scene's output settings. Returns frame → path."""
    render, display = scene.render, scene.display
    assert display is not None  # every scene has one
    settings = render.image_settings
    saved = (render.filepath, render.use_file_extension, scene.frame_start, scene.frame_end,
             scene.frame_current, settings.file_format, getattr(settings, "media_type", None),
             display.render_aa)
    _image_output(scene)
    render.use_file_extension = True
    render.filepath = os.path.join(folder, "frame#####")
    shown = {f: b - f for f, b in zip(frames, [*frames[1:], scene.frame_end + 1])}
    runs: list[list[int]] = []
    for frame in frames:
        if runs and frame == runs[-1][-1] + 1 and (shown[frame] < glimpse) == (shown[runs[-1][-1]] < glimpse):
            runs[-1].append(frame)
        else:
            runs.append([frame])
    try:
        for run in runs:
            display.render_aa = 'OFF' if shown[run[0]] < glimpse else saved[7]
            scene.frame_start, scene.frame_end = run[0], run[-1]
            bpy.ops.render.render(animation=True)
    finally:
        render.filepath, render.use_file_extension = saved[0], saved[1]
        scene.frame_start, scene.frame_end = saved[2], saved[3]
        display.render_aa = saved[7]
        if saved[5] == 'FFMPEG':
            video_output(scene, saved[0])
        else:
            if saved[6] is not None:
                settings.media_type = saved[6]
            settings.file_format = saved[5]
        scene.frame_set(saved[4])
    return {f: os.path.join(folder, f"frame{f:05d}.png") for f in frames}


def assemble(scene: bpy.types.Scene, stills: dict[int, str], filepath: str) -> int:
    """Write the MP4 ``filepath`` of ``scene``'s frame range from ``stills`` (frame → PNG), each
    shown from its frame until the next one's: a sequencer scene with one image strip per still,
    at the scene's resolution and frame rate. Returns the number of frames written."""
    first, last = scene.frame_start, scene.frame_end
    edit = bpy.data.scenes.new(EDIT_SCENE)
    try:
        r, source = edit.render, scene.render
        r.resolution_x, r.resolution_y, r.resolution_percentage = source.resolution_x, source.resolution_y, 100
        r.fps, r.fps_base = source.fps, source.fps_base
        assert edit.view_settings is not None  # every scene has them
        edit.view_settings.view_transform = 'Standard'  # type: ignore[assignment]  # stubs list only 'NONE'
        edit.frame_start, edit.frame_end = first, last
        editor = edit.sequence_editor_create()
        strips = editor.strips if hasattr(editor, "strips") else editor.sequences  # type: ignore[attr-defined]  # < 4.4
        starts = sorted(f for f in stills if first <= f <= last)
        for i, frame in enumerate(starts):
            until = starts[i + 1] if i + 1 < len(starts) else last + 1
            strip = strips.new_image(f"still {frame}", stills[frame], 1, frame)
            strip.frame_final_duration = until - frame
        video_output(edit, filepath)
        with bpy.context.temp_override(scene=edit):
            bpy.ops.render.render(animation=True, scene=edit.name)
    finally:
        bpy.data.scenes.remove(edit)
    return last - first + 1


GLIMPSE = 0.25  # seconds: a frame seen for less than this needs no antialiasing


def render_film(scene: bpy.types.Scene, filepath: str, folder: str) -> dict[int, str]:
    """Render ``scene``'s frame range to the MP4 ``filepath``, each frame that changes
    (:func:`keys.changes`) once, as PNGs kept in ``folder``. Returns frame → PNG."""
    glimpse = round(GLIMPSE * scene.render.fps / scene.render.fps_base)
    stills = render_stills(scene, changes(scene.frame_start, scene.frame_end), folder, glimpse=glimpse)
    assemble(scene, stills, filepath)
    return stills


def still_at(stills: dict[int, str], frame: int) -> str:
    """The PNG that shows ``frame``: the last still at or before it."""
    return stills[max(f for f in stills if f <= frame)]


def tile(paths: Iterable[str], filepath: str, *, columns: int = 3, scale: float = 0.5) -> str:
    """Tile PNGs (all of one size) into one PNG, ``scale`` times their size, with thin gaps."""
    tiles = []
    for path in paths:
        image = bpy.data.images.load(path)
        w: int
        h: int
        w, h = image.size  # type: ignore[misc]  # stubs: bpy_prop_array is iterable
        if scale != 1.0:
            w, h = max(1, round(w * scale)), max(1, round(h * scale))
            image.scale(w, h)
        pixels = np.empty(w * h * 4, dtype=np.float32)
        image.pixels.foreach_get(pixels)
        tiles.append(pixels.reshape(h, w, 4))
        bpy.data.images.remove(image)
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    gap = 4
    sheet = np.zeros(((h + gap) * rows - gap, (w + gap) * columns - gap, 4), dtype=np.float32)
    sheet[..., 3] = 1.0
    for i, tile_pixels in enumerate(tiles):
        r, c = divmod(i, columns)
        y0 = (rows - 1 - r) * (h + gap)  # Blender images start at the bottom row
        sheet[y0:y0 + h, c * (w + gap):c * (w + gap) + w] = tile_pixels
    image = bpy.data.images.new("SymBreak Contact Sheet", sheet.shape[1], sheet.shape[0], alpha=True)
    image.pixels.foreach_set(sheet.ravel())  # type: ignore[arg-type]  # stubs: any buffer works
    image.filepath_raw = filepath
    image.file_format = 'PNG'
    image.save()
    bpy.data.images.remove(image)
    return filepath


def contact_sheet(scene: bpy.types.Scene, frames: list[int], filepath: str, *, columns: int = 3,
                  scale: float = 0.5) -> str:
    """Render still frames and tile them into one PNG. Restores the output settings."""
    with tempfile.TemporaryDirectory() as folder:
        stills = render_stills(scene, sorted(set(frames)), folder)
        return tile([stills[f] for f in frames], filepath, columns=columns, scale=scale)
