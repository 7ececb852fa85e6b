# SPDX-License-Identifier: GPL-3.0-or-later
"""Registration: every class in order, the settings pointers, and the reverse on the way out."""

from __future__ import annotations

import bpy

from . import ops, panel, props, worker

CLASSES = [*props.CLASSES, *ops.CLASSES, *panel.CLASSES]


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.symbreak = bpy.props.PointerProperty(type=props.SymBreakSettings)
    bpy.types.Object.symbreak = bpy.props.PointerProperty(type=props.SymBreakObject)


def unregister() -> None:
    if worker.current is not None:
        worker.current.cancel()
        worker.current = None
    del bpy.types.Object.symbreak
    del bpy.types.Scene.symbreak
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
