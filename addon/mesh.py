# SPDX-License-Identifier: GPL-3.0-or-later
"""Blender data ↔ numpy. Each conversion lives here and nowhere else.

Meshes are read and written with ``foreach_get``/``foreach_set`` only (never a Python loop per
vertex). Positions are ``(N, 3)`` float64 arrays in an object's local coordinates; the two
conversions between frames (:func:`to_world`, :func:`positions_in`) use ``matrix_world``.
"""

from __future__ import annotations

import hashlib
from typing import Any, Optional

import bpy
import numpy as np

BASIS = "Basis"


# --- vertices ---------------------------------------------------------------------------------

def sync_edit_mode(obj: bpy.types.Object) -> None:
    """Flush an edit-mode mesh into ``obj.data`` so that reads see the current state."""
    if obj.mode == 'EDIT':
        obj.update_from_editmode()


def mesh_data(obj: bpy.types.Object) -> bpy.types.Mesh:
    """``obj.data`` of a mesh object, which the stubs type as any object data or None."""
    return obj.data  # type: ignore[return-value]  # callers pass mesh objects


def positions(mesh: bpy.types.Mesh) -> np.ndarray:
    """Local vertex positions ``(N, 3)``."""
    co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", co)
    return co.reshape(-1, 3).astype(np.float64)


def fingerprint(positions: np.ndarray) -> str:
    """A short hash of vertex positions ``(N, 3)`` as Blender holds them (float32): it changes
    when any vertex moves, is added or is removed."""
    data = np.ascontiguousarray(positions, dtype=np.float32)
    return hashlib.blake2b(data.tobytes() + str(data.shape).encode(), digest_size=16).hexdigest()


def selection(mesh: bpy.types.Mesh) -> np.ndarray:
    """Vertex selection flags ``(N,)`` bool."""
    flags = np.zeros(len(mesh.vertices), dtype=bool)
    mesh.vertices.foreach_get("select", flags)
    return flags


INTEGER_TYPES = {'INT': np.int32, 'INT8': np.int8}


def vertex_integers(mesh: bpy.types.Mesh, name: str) -> Optional[np.ndarray]:
    """The integer point attribute ``name`` ``(N,)`` int64, or None when the mesh has no
    attribute of that name; ``ValueError`` when it is not an integer one on the vertices.

    In Edit Mode Blender gives attributes no data (they live in the edit mesh), so they are
    read from a copy of the mesh as :func:`sync_edit_mode` last flushed it.
    """
    attribute = mesh.attributes.get(name) if name else None
    if attribute is None:
        return None
    if attribute.domain != 'POINT' or attribute.data_type not in INTEGER_TYPES:
        kind = attribute.data_type.lower().replace("_", " ")
        raise ValueError(f"Attribute {name!r} of mesh {mesh.name!r} holds {kind} values on the "
                         f"{attribute.domain.lower()} domain: vertex types must be an integer attribute on the vertices")
    values = np.empty(len(mesh.vertices), dtype=INTEGER_TYPES[attribute.data_type])
    flushed = mesh.copy() if mesh.is_editmode else mesh
    try:
        flushed.attributes[name].data.foreach_get("value", values)
    finally:
        if flushed is not mesh:
            bpy.data.meshes.remove(flushed)
    return values.astype(np.int64)


def vertex_weights(obj: bpy.types.Object, group_name: str) -> np.ndarray:
    """Weights ``(N,)`` of a vertex group (0 where a vertex is not in it).

    Blender stores group membership per vertex, so this is the one read that has to walk the
    vertices; it is done once per call and only for the group's own members.
    """
    group = obj.vertex_groups.get(group_name)
    if group is None:
        raise ValueError(f"Vertex group {group_name!r} not found on {obj.name!r}")
    mesh = obj.data
    weights = np.zeros(len(mesh.vertices))
    index = group.index
    for v in mesh.vertices:
        for g in v.groups:
            if g.group == index:
                weights[v.index] = g.weight
    return weights


# --- transforms ---------------------------------------------------------------------------------

def matrix(obj: bpy.types.Object) -> np.ndarray:
    """``matrix_world`` as a ``(4, 4)`` float64 array."""
    return np.array(obj.matrix_world, dtype=np.float64)


def to_world(obj: bpy.types.Object, local: np.ndarray) -> np.ndarray:
    """World positions ``(N, 3)`` of ``obj``'s local positions: :math:`M x`."""
    m = matrix(obj)
    return local @ m[:3, :3].T + m[:3, 3]


def positions_in(frame: bpy.types.Object, other: bpy.types.Object) -> np.ndarray:
    """The vertex positions ``(N, 3)`` of mesh object ``other`` in ``frame``'s local coordinates,
    :math:`M_{frame}^{-1} M_{other}\\, x` (edit mode flushed first). ``frame``'s matrix must be
    invertible."""
    sync_edit_mode(other)
    m = np.linalg.solve(matrix(frame), matrix(other))
    return positions(mesh_data(other)) @ m[:3, :3].T + m[:3, 3]


# --- shape keys ---------------------------------------------------------------------------------

def shape_key_names(obj: bpy.types.Object) -> list[str]:
    keys = mesh_data(obj).shape_keys if obj.type == 'MESH' else None
    return [k.name for k in keys.key_blocks] if keys else []


def shape_key_positions(obj: bpy.types.Object, name: str) -> np.ndarray:
    """Local positions ``(N, 3)`` stored in a shape key."""
    keys = mesh_data(obj).shape_keys
    block = keys.key_blocks.get(name) if keys else None
    if block is None:
        raise ValueError(f"Shape key {name!r} not found on {obj.name!r}")
    co = np.empty(len(block.data) * 3, dtype=np.float32)
    block.data.foreach_get("co", co)
    return co.reshape(-1, 3).astype(np.float64)


def set_shape_key(obj: bpy.types.Object, name: str, local: np.ndarray) -> bpy.types.ShapeKey:
    """Create or overwrite shape key ``name`` (relative to the basis) with local positions."""
    data = mesh_data(obj)
    if data.shape_keys is None:
        obj.shape_key_add(name=BASIS, from_mix=False)
    keys = data.shape_keys
    assert keys is not None  # made above
    block = keys.key_blocks.get(name)
    if block is None:
        block = obj.shape_key_add(name=name, from_mix=False)
        block.value = 0.0  # new keys start at 1.0
    block.data.foreach_set("co", np.ascontiguousarray(local, dtype=np.float32).ravel())
    data.update()
    return block


# --- building meshes ----------------------------------------------------------------------------

# Blender's own names for the connectivity arrays behind ``edges[].vertices``,
# ``loops[].vertex_index`` and ``loops[].edge_index`` (not public API): name -> (domain, type).
# Writing them is 60-100x faster than writing the collections; ``_fill`` falls back to the
# public collections when one is missing or has changed, and a test checks that they are there.
INTERNAL_ATTRIBUTES = {
    ".edge_verts": ('EDGE', 'INT32_2D'),
    ".corner_vert": ('CORNER', 'INT'),
    ".corner_edge": ('CORNER', 'INT'),
}


def internal_attribute(mesh: bpy.types.Mesh, name: str) -> Optional[bpy.types.Attribute]:
    """The attribute ``name`` of ``INTERNAL_ATTRIBUTES`` if this Blender has it as expected, else None."""
    found = mesh.attributes.get(name)
    if found is None or (found.domain, found.data_type) != INTERNAL_ATTRIBUTES[name]:
        return None
    return found


def _fill(mesh: bpy.types.Mesh, attribute: str, values: np.ndarray, collection: Any, rna_field: str) -> None:
    """Write ``position`` or an internal connectivity attribute directly (a plain buffer copy),
    else through the public RNA collection."""
    target = mesh.attributes.get(attribute) if attribute == "position" else internal_attribute(mesh, attribute)
    if target is not None:
        target.data.foreach_set(  # type: ignore[attr-defined]  # stubs: base Attribute
            "vector" if attribute == "position" else "value", values.ravel())
    else:
        collection.foreach_set(rna_field, values.ravel())


def new_mesh(name: str, vertices: np.ndarray, *, faces: Optional[np.ndarray] = None,
             edges: Optional[np.ndarray] = None) -> bpy.types.Mesh:
    """A mesh from ``(V, 3)`` vertices, ``(F, 3)`` triangles and/or ``(E, 2)`` edges, vectorised."""
    mesh = bpy.data.meshes.new(name)
    vertices = np.ascontiguousarray(vertices, dtype=np.float32).reshape(-1, 3)
    mesh.vertices.add(len(vertices))
    _fill(mesh, "position", vertices, mesh.vertices, "co")
    has_faces = faces is not None and len(faces) > 0
    if edges is not None and len(edges) and not has_faces:
        edges = np.ascontiguousarray(edges, dtype=np.int32).reshape(-1, 2)
        mesh.edges.add(len(edges))
        _fill(mesh, ".edge_verts", edges, mesh.edges, "vertices")
    if has_faces:
        faces = np.ascontiguousarray(faces, dtype=np.int32)
        faces = faces.reshape(len(faces), -1)
        corners = faces.shape[1]
        mesh.loops.add(faces.size)
        _fill(mesh, ".corner_vert", faces, mesh.loops, "vertex_index")
        mesh.polygons.add(len(faces))
        mesh.polygons.foreach_set("loop_start", np.arange(0, faces.size, corners, dtype=np.int32))
    mesh.update(calc_edges=has_faces)
    return mesh


def new_tiled_mesh(name: str, vertices: np.ndarray, faces: np.ndarray) -> bpy.types.Mesh:
    """A mesh of ``S`` copies of one layout: ``(S, V, 3)`` vertices sharing ``(F, C)`` faces.

    The layout's edges are found once and offset per copy, with each corner's edge, so that
    Blender does not search millions of edges itself (``update(calc_edges=True)``, the slow part).
    """
    count, per = vertices.shape[:2]
    faces = np.asarray(faces, dtype=np.int32)
    sides = np.stack([faces, np.roll(faces, -1, axis=1)], axis=-1).reshape(-1, 2)  # corner → next corner
    edges, corner_edges = np.unique(np.sort(sides, axis=1), axis=0, return_inverse=True)
    copies = np.arange(count, dtype=np.int32)[:, None]
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(count * per)
    _fill(mesh, "position", np.ascontiguousarray(vertices, dtype=np.float32), mesh.vertices, "co")
    mesh.edges.add(count * len(edges))
    _fill(mesh, ".edge_verts", edges.reshape(1, -1) + copies * per, mesh.edges, "vertices")
    mesh.loops.add(count * faces.size)
    _fill(mesh, ".corner_vert", faces.reshape(1, -1) + copies * per, mesh.loops, "vertex_index")
    _fill(mesh, ".corner_edge", corner_edges.reshape(1, -1).astype(np.int32) + copies * len(edges),
          mesh.loops, "edge_index")
    mesh.polygons.add(count * len(faces))
    mesh.polygons.foreach_set("loop_start", np.arange(0, count * faces.size, faces.shape[1], dtype=np.int32))
    mesh.update()
    return mesh


def set_point_colors(mesh: bpy.types.Mesh, name: str, rgba: np.ndarray) -> None:
    """A per-vertex float colour attribute ``(V, 4)``, made the active colour."""
    attribute = mesh.color_attributes.get(name) or mesh.color_attributes.new(name, 'FLOAT_COLOR', 'POINT')
    attribute.data.foreach_set(  # type: ignore[attr-defined]  # stubs: base Attribute
        "color", np.ascontiguousarray(rgba, dtype=np.float32).ravel())
    mesh.color_attributes.active_color = attribute
    # The stubs allow None for active_color_index, but one was just made active.
    mesh.color_attributes.render_color_index = mesh.color_attributes.active_color_index  # type: ignore[assignment]


def set_point_floats(mesh: bpy.types.Mesh, name: str, values: np.ndarray) -> None:
    """A per-vertex float attribute ``(V,)``."""
    attribute = mesh.attributes.get(name) or mesh.attributes.new(name, 'FLOAT', 'POINT')
    attribute.data.foreach_set(  # type: ignore[attr-defined]  # stubs: base Attribute
        "value", np.ascontiguousarray(values, dtype=np.float32).ravel())


def set_face_materials(mesh: bpy.types.Mesh, indices: np.ndarray) -> None:
    """Each face's material slot ``(F,)``, written as the face attribute ``material_index``
    (much faster than through ``polygons`` on millions of faces)."""
    attribute = mesh.attributes.get("material_index") or mesh.attributes.new("material_index", 'INT', 'FACE')
    attribute.data.foreach_set(  # type: ignore[attr-defined]  # stubs: base Attribute
        "value", np.ascontiguousarray(indices, dtype=np.int32).ravel())


def smooth_faces(mesh: bpy.types.Mesh) -> None:
    if hasattr(mesh, "shade_smooth"):  # Blender ≥ 4.1
        mesh.shade_smooth()
    else:
        mesh.polygons.foreach_set("use_smooth", np.ones(len(mesh.polygons), dtype=bool))
