# SPDX-License-Identifier: GPL-3.0-or-later
"""Render Video: a short film of the active trained object, or the scene as it is, to an MP4."""

from __future__ import annotations

import os
import tempfile

import bpy
import numpy as np
from bpy.props import BoolProperty, StringProperty

from ...engine import api
from .. import inputs, props, storage
from ..build import camera, film, keys, surfaces, video
from .base import Result, fail

# Blender's frame range for a new scene: Render Video replaces it with the frames the animation needs.
DEFAULT_RANGE = (1, 250)


def film_task(obj: bpy.types.Object, *, level: int = 3) -> film.FilmTask:
    """The film's data of an object with a stored prediction: prediction, target, loss history
    and symmetry verdict as stored, the signal surfaces at scale 1 (a peak's tip marks the
    displacement) and, for a global symmetry-breaking input, its surface and its name.
    ``ValueError`` when the input cannot be rebuilt."""
    p = storage.prediction(obj)
    target = storage.target(obj)
    if target is not None and len(target) != len(p.indices):
        target = None
    extra = inputs.breaking(inputs.Source(obj, p.indices, p.start, p.vertex_count, p.fingerprint))
    order = None
    if extra is not None and extra.is_global:
        name = extra.description.split("∝")[-1].strip()  # an axis pair reads "x² − y²"
        order = (surfaces.order_parameter_surface(extra, p.start, level=level, size=0.5), name)
    record = storage.symmetry(obj) or {}
    verdict = record.get("warning") or (record.get("verdict", "") if record.get("learnable", True)
                                        else f"Learnable with {record.get('inputs', 'its inputs')}.")
    return film.FilmTask(source=obj, prediction=p, target=target, losses=storage.loss_history(obj),
                         surfaces=api.signal_surfaces(surfaces.coefficients(p), p.start, scale=1.0, level=level),
                         order_parameter=order, verdict=str(verdict).split(";")[0])


class SYMBREAK_OT_render_video(bpy.types.Operator):
    """Render an MP4 (H.264): a short film of the active trained object (title, verdict, motion,
    loss curve, legend), or the scene as it is. Only the frames the animation needs, unless the
    scene's frame range was set"""

    bl_idname = "symbreak.render_video"
    bl_label = "Render Video"
    bl_options = {'REGISTER'}

    filepath: StringProperty(name="File Path", description="Overrides the Output setting when set",
                             default="", subtype='FILE_PATH')
    contact_sheet: BoolProperty(name="Contact Sheet", description="Also write a PNG of key frames",
                                default=False)
    frame_camera: BoolProperty(name="Frame Camera", description="Fit the camera to the content",
                               default=True)
    film: BoolProperty(name="Film", description="A short film of the active trained object; off: the scene as it is",
                       default=True)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if context.scene is None or context.mode != 'OBJECT':
            cls.poll_message_set("Switch to Object Mode")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> Result:
        sc = context.scene
        if sc is None:
            return fail(self, "No scene to render")
        settings = props.scene_settings(sc).render
        try:
            inputs.finite_setting("Duration", settings.duration)
        except ValueError as error:
            return fail(self, str(error))
        raw = self.filepath or settings.filepath
        if raw.startswith("//") and not bpy.data.filepath:
            return fail(self, f"Output {raw!r} is relative to the .blend: save the file first "
                              "or choose an absolute path")
        path = bpy.path.abspath(raw)
        if not path or path.endswith(("/", os.sep)):
            return fail(self, "Choose an output file (.mp4)")
        if not path.lower().endswith(".mp4"):
            path += ".mp4"
        folder = os.path.dirname(path) or "."
        if not os.path.isdir(folder):
            try:
                os.makedirs(folder, exist_ok=True)
            except OSError as error:
                return fail(self, f"Cannot create {folder!r}: {error}")
        obj, task = context.active_object, None
        if self.film and storage.has_prediction(obj):
            assert obj is not None
            try:
                task = film_task(obj, level=props.scene_settings(sc).display.signal_level)
            except ValueError as error:
                return fail(self, str(error))
        elif not camera.content(sc):
            return fail(self, "Nothing to render: add the seed demo or a mesh first")
        if sc.frame_end < sc.frame_start:
            return fail(self, "The scene's frame range is empty")
        user_range = (sc.frame_start, sc.frame_end) != DEFAULT_RANGE or settings.duration > 0
        video.configure(sc, settings, path)
        camera.lights_and_world(sc)
        acts: list[film.Act] = []
        if task is not None:
            acts = film.build(sc, film.script("own"), [task], fps=int(settings.fps), keep_range=user_range).acts
        else:
            keyed = keys.keyed_range()
            if not user_range and keyed is not None:
                sc.frame_start, sc.frame_end = keyed
            if self.frame_camera or sc.camera is None:
                camera.camera(sc)
        # key frames: each act's end and the middle of each motion in the range, else six frames of it
        frames = sorted({f for a in acts for f in [a.last] + ([sum(a.motion) // 2] if a.motion else [])
                         if sc.frame_start <= f <= sc.frame_end})
        if len(frames) < 2:
            frames = np.linspace(sc.frame_start, sc.frame_end, 6).round().astype(int).tolist()
        sheet = os.path.splitext(path)[0] + "_contact.png"
        count = sc.frame_end - sc.frame_start + 1
        if bpy.app.background or context.window is None:
            with tempfile.TemporaryDirectory() as stills_folder:
                stills = video.render_film(sc, path, stills_folder)
                if self.contact_sheet:
                    video.tile([video.still_at(stills, f) for f in frames], sheet)
            self.report({'INFO'}, f"Rendered {count} frames ({len(stills)} distinct) to {path}")
        else:
            if self.contact_sheet:
                video.contact_sheet(sc, frames, sheet)
            bpy.ops.render.render('INVOKE_DEFAULT', animation=True)
            self.report({'INFO'}, f"Rendering {count} frames to {path}")
        return {'FINISHED'}


CLASSES = [SYMBREAK_OT_render_video]
