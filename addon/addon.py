# SPDX-License-Identifier: GPL-3.0-or-later
"""Registration: every class in order, the settings pointers, and the reverse on the way out."""

from __future__ import annotations

import bpy

from . import ops, panel, preferences, props, worker

CLASSES: list[type[bpy.types.PropertyGroup] | type[bpy.types.Operator] | type[bpy.types.Panel]
              | type[bpy.types.AddonPreferences]] = [*props.CLASSES, *ops.CLASSES, *panel.CLASSES, *preferences.CLASSES]


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    # The add-on's own pointers, which the stubs cannot know (read them with props.*_settings).
    bpy.types.Scene.symbreak = bpy.props.PointerProperty(type=props.SymBreakSettings)  # type: ignore[attr-defined]
    bpy.types.Object.symbreak = bpy.props.PointerProperty(type=props.SymBreakObject)  # type: ignore[attr-defined]


def unregister() -> None:
    if worker.current is not None:
        worker.current.cancel()
        worker.current = None
    del bpy.types.Object.symbreak  # type: ignore[attr-defined]  # add-on's own
    del bpy.types.Scene.symbreak  # type: ignore[attr-defined]  # add-on's own
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
