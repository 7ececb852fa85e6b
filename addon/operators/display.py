# SPDX-License-Identifier: GPL-3.0-or-later
"""Show Signals and Animate: the stored prediction baked into meshes, shape keys and keyframes."""

from __future__ import annotations

import bpy

from .. import inputs, mesh, props, storage
from ..build import animation, surfaces
from .base import Result, SceneOperator, fail


class SYMBREAK_OT_show_signals(SceneOperator):
    """One spherical-harmonic surface per vertex: radius |f|, red positive, blue negative"""

    bl_idname = "symbreak.show_signals"
    bl_label = "Show Signals"

    def execute(self, context: bpy.types.Context) -> Result:
        d = props.settings(context).display
        try:
            obj, p = inputs.stored_prediction(context)
            inputs.check_editable(obj)
            inputs.check_surface_size(len(p.indices), d.signal_level)
            scale = inputs.finite_setting("Signal Scale", d.signal_scale)
            signals_obj = surfaces.build_signals(obj, p, scale=scale, level=d.signal_level)
        except ValueError as error:
            return fail(self, str(error))
        self.report({'INFO'}, f"{len(p.indices)} signal surfaces, {len(mesh.mesh_data(signals_obj).vertices)} "
                              f"vertices, in {signals_obj.name!r}")
        return {'FINISHED'}


class SYMBREAK_OT_animate(SceneOperator):
    """Bake the motion from start to predicted positions into shape keys and keyframes"""

    bl_idname = "symbreak.animate"
    bl_label = "Animate"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if context.mode != 'OBJECT':
            cls.poll_message_set("Switch to Object Mode")
            return False
        return context.scene is not None

    def execute(self, context: bpy.types.Context) -> Result:
        sc = context.scene
        assert sc is not None  # poll
        d = props.scene_settings(sc).display
        try:
            obj, p = inputs.stored_prediction(context)
            inputs.check_editable(obj)
            point_radius = inputs.finite_setting("Point Radius", d.point_radius)
            target = storage.target(obj) if d.show_target else None
        except ValueError as error:
            return fail(self, str(error))
        if d.frame_end <= d.frame_start:
            return fail(self, f"End frame ({d.frame_end}) must come after start frame ({d.frame_start})")
        try:
            inputs.check_other_shape_keys(obj, d.frame_end)
        except ValueError as error:
            return fail(self, str(error))
        if target is not None and len(target) != len(p.indices):
            target = None
        done = animation.animate(obj, p, frame_start=d.frame_start, frame_end=d.frame_end, easing=d.easing,
                                 target=target, show_ambiguous=d.show_ambiguous,
                                 signals_motion=d.signals_motion, point_radius=point_radius)
        sc.frame_start = min(sc.frame_start, d.frame_start)
        sc.frame_end = max(sc.frame_end, d.frame_end)
        ghosts = f", {done['ghosts']} ghosts for tied peaks" if done["ghosts"] else ""
        self.report({'INFO'}, f"Animated {obj.name!r}: {done['moving']} vertices move over frames "
                              f"{d.frame_start}–{d.frame_end}{ghosts}")
        if done["ghosts_left_out"]:
            self.report({'WARNING'}, f"{done['ghosts_left_out']:,} more ghosts for tied peaks were left out "
                                     f"(at most {animation.MAX_GHOSTS:,} are drawn)")
        return {'FINISHED'}


CLASSES = [SYMBREAK_OT_show_signals, SYMBREAK_OT_animate]
