# SPDX-License-Identifier: GPL-3.0-or-later
"""The seed demo: the tutorial's three tasks side by side, each with a 'Target' shape key."""

from __future__ import annotations

import bpy
import numpy as np

from ...engine import api
from .. import mesh, props, storage
from .objects import link
from .points import show_as_points
from .text import text_object

DEMO_COLLECTION = "SymBreak Demo"
DEMO_TASKS = [
    # (engine task, object name, label)
    (name, f"Task {i}", f"Task {i}: {task.title}" + (f"\nwith {task.order_parameter.description}"
                                                    if task.order_parameter else ""))
    for i, (name, task) in enumerate(api.TASKS.items(), start=1)
]


def add_seed_demo(scene: bpy.types.Scene, *, spacing: float = 3.0, point_radius: float = 0.06) -> list[bpy.types.Object]:
    """The tutorial's three tasks side by side, each with a 'Target' shape key, a label and a
    collection of its own. Returns the three task objects."""
    root = bpy.data.collections.new(DEMO_COLLECTION)
    scene.collection.children.link(root)
    made = []
    for i, (task_name, obj_name, label) in enumerate(DEMO_TASKS):
        task = api.TASKS[task_name]
        start, end = np.asarray(task.start, float), np.asarray(task.target, float)
        collection = bpy.data.collections.new(label.split("\n")[0])
        root.children.link(collection)
        n = len(start)
        loop = np.stack([np.arange(n), (np.arange(n) + 1) % n], axis=1)
        obj = bpy.data.objects.new(obj_name, mesh.new_mesh(obj_name, start, edges=loop))
        obj.location = ((i - 1) * spacing, 0.0, 0.0)
        link(obj, collection)
        mesh.set_shape_key(obj, "Target", end)
        state = props.object_settings(obj)
        state.target_mode, state.target_shape_key, state.task = 'SHAPE_KEY', "Target", task_name
        if task.order_parameter is not None:
            storage.store_order_parameter(obj, task.order_parameter)
            state.breaking = 'ORDER_PARAMETER'
        show_as_points(obj, point_radius, 'points')
        low = min(start[:, 1].min(), end[:, 1].min())
        text_object(f"{obj_name} Label", label, ((i - 1) * spacing, low - 0.45, 0.0), 0.22, collection)
        made.append(obj)
    title = "Curie's principle: an equivariant network's output is at least as symmetric as its input"
    text_object("SymBreak Title", title, (0.0, 1.9, 0.0), 0.26, root)
    return made
