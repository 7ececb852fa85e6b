# SPDX-License-Identifier: GPL-3.0-or-later
"""Registration: every class in order, the settings pointers, the engine loading in the
background, and the reverse on the way out. Registering or unregistering twice does nothing."""

from __future__ import annotations

import bpy

from . import jobs, operators, panel, preferences, props

CLASSES: list[type[bpy.types.AddonPreferences] | type[bpy.types.PropertyGroup] | type[bpy.types.Operator]
              | type[bpy.types.Panel]] = [*preferences.CLASSES, *props.CLASSES, *operators.CLASSES, *panel.CLASSES]

_registered = False


def register() -> None:
    global _registered
    if _registered:
        return
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    # The add-on's own pointers, which the stubs cannot know (read them with props.*_settings).
    bpy.types.Scene.symbreak = bpy.props.PointerProperty(type=props.SymBreakSettings)  # type: ignore[attr-defined]
    bpy.types.Object.symbreak = bpy.props.PointerProperty(type=props.SymBreakObject)  # type: ignore[attr-defined]
    _registered = True
    jobs.preload()


def unregister() -> None:
    global _registered
    if not _registered:
        return
    jobs.stop()
    del bpy.types.Object.symbreak  # type: ignore[attr-defined]  # add-on's own
    del bpy.types.Scene.symbreak  # type: ignore[attr-defined]  # add-on's own
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
    _registered = False
