# SPDX-License-Identifier: GPL-3.0-or-later
"""Render Video: camera, light and background, then the scene to an MP4."""

from __future__ import annotations

import os

import bpy
import numpy as np
from bpy.props import BoolProperty, StringProperty

from .. import inputs, props, video
from .base import Result, fail


class SYMBREAK_OT_render_video(bpy.types.Operator):
    """Frame the camera, set lights and background, and render the scene to an MP4 (H.264)"""

    bl_idname = "symbreak.render_video"
    bl_label = "Render Video"
    bl_options = {'REGISTER'}

    filepath: StringProperty(name="File Path", description="Overrides the Output setting when set",
                             default="", subtype='FILE_PATH')
    contact_sheet: BoolProperty(name="Contact Sheet", description="Also write a PNG of key frames",
                                default=False)
    frame_camera: BoolProperty(name="Frame Camera", description="Fit the camera to the content",
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
        if not video.content(sc):
            return fail(self, "Nothing to render: add the seed demo or a mesh first")
        if sc.frame_end < sc.frame_start:
            return fail(self, "The scene's frame range is empty")
        video.configure(sc, settings, path)
        video.lights_and_world(sc)
        if self.frame_camera or sc.camera is None:
            video.camera(sc)
        if self.contact_sheet:
            frames = np.linspace(sc.frame_start, sc.frame_end, 6).round().astype(int).tolist()
            video.contact_sheet(sc, frames, os.path.splitext(path)[0] + "_contact.png")
        if bpy.app.background or context.window is None:
            bpy.ops.render.render(animation=True)
            self.report({'INFO'}, f"Rendered {sc.frame_end - sc.frame_start + 1} frames to {path}")
        else:
            bpy.ops.render.render('INVOKE_DEFAULT', animation=True)
            self.report({'INFO'}, f"Rendering {sc.frame_end - sc.frame_start + 1} frames to {path}")
        return {'FINISHED'}



CLASSES = [SYMBREAK_OT_render_video]
