# SPDX-License-Identifier: GPL-3.0-or-later
"""Objects and collections: linking, removing, a source object's children by role."""

from __future__ import annotations

from typing import Optional

import bpy

from .. import props


def link(obj: bpy.types.Object, collection: bpy.types.Collection) -> bpy.types.Object:
    collection.objects.link(obj)
    return obj


def remove_object(obj: Optional[bpy.types.Object]) -> None:
    """Remove an object made by the add-on, and its data if nothing else uses it."""
    if obj is None:
        return
    data = obj.data
    bpy.data.objects.remove(obj)
    if data is not None and data.users == 0:
        if isinstance(data, bpy.types.Mesh):
            bpy.data.meshes.remove(data)
        elif isinstance(data, bpy.types.Curve):
            bpy.data.curves.remove(data)


def child(source: bpy.types.Object, role: str) -> Optional[bpy.types.Object]:
    """The source's child object with the given role ('SIGNALS', 'GHOSTS' or 'TARGET')."""
    return next((c for c in source.children if props.object_settings(c).role == role), None)


def attach(obj: bpy.types.Object, source: bpy.types.Object, role: str) -> bpy.types.Object:
    """Link ``obj`` (built in ``source``'s local coordinates) next to ``source`` and parent it, so
    that it is drawn, and moves, in that frame."""
    for collection in source.users_collection:
        collection.objects.link(obj)
    obj.parent = source
    props.object_settings(obj).role = role
    return obj


def fresh_collection(scene: bpy.types.Scene, name: str) -> bpy.types.Collection:
    """An empty collection ``name`` in the scene: the previous one's objects are removed."""
    collection = bpy.data.collections.get(name)
    if collection is None:
        collection = bpy.data.collections.new(name)
    for obj in list(collection.all_objects):
        remove_object(obj)
    if collection.name not in scene.collection.children:
        scene.collection.children.link(collection)
    return collection
