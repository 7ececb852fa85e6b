# SPDX-License-Identifier: GPL-3.0-or-later
"""The seed demo: the tutorial's tasks as meshes, side by side."""

from __future__ import annotations

import bpy

from .. import props
from ..build import seed
from .base import Result, fail


class SYMBREAK_OT_add_seed_demo(bpy.types.Operator):
    """Add the tutorial's three tasks side by side, each with a Target shape key and a label"""

    bl_idname = "symbreak.add_seed_demo"
    bl_label = "Add Seed Demo"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context.scene is not None and context.mode == 'OBJECT'

    def execute(self, context: bpy.types.Context) -> Result:
        sc, view_layer = context.scene, context.view_layer
        if sc is None or view_layer is None:
            return fail(self, "No scene to add the demo to")
        made = seed.add_seed_demo(sc, point_radius=props.scene_settings(sc).display.point_radius)
        for obj in view_layer.objects:
            obj.select_set(False)
        made[0].select_set(True)
        view_layer.objects.active = made[0]
        self.report({'INFO'}, f"Added the seed demo: {', '.join(o.name for o in made)}")
        return {'FINISHED'}


CLASSES = [SYMBREAK_OT_add_seed_demo]
