# SPDX-License-Identifier: GPL-3.0-or-later
"""Points drawn as spheres on the vertices and tubes along the edges (built-in Geometry Nodes)."""

from __future__ import annotations

from typing import Any, Optional

import bpy

from .. import mesh
from .materials import material

POINTS_GROUP = "SymBreak Points"


def points_node_group() -> bpy.types.NodeTree:
    """Geometry Nodes: a sphere on every vertex and a tube along every edge (built-in nodes only)."""
    group = bpy.data.node_groups.get(POINTS_GROUP)
    if group is not None:
        return group
    group = bpy.data.node_groups.new(POINTS_GROUP, 'GeometryNodeTree')
    if group is None:
        raise RuntimeError(f"Could not create the node group {POINTS_GROUP!r}")
    face = group.interface
    if face is None:
        raise RuntimeError(f"The node group {POINTS_GROUP!r} has no interface")
    # The stubs only allow socket_type='DEFAULT'; any socket type name is valid.
    face.new_socket("Geometry", in_out='INPUT', socket_type='NodeSocketGeometry')  # type: ignore[arg-type]
    radius_socket = face.new_socket("Radius", in_out='INPUT', socket_type='NodeSocketFloat')  # type: ignore[arg-type]
    radius_socket.default_value = 0.06  # type: ignore[attr-defined]  # stubs: base socket
    face.new_socket("Material", in_out='INPUT', socket_type='NodeSocketMaterial')  # type: ignore[arg-type]
    face.new_socket("Geometry", in_out='OUTPUT', socket_type='NodeSocketGeometry')  # type: ignore[arg-type]
    nodes, links = group.nodes, group.links

    def node(kind: str, x: float, y: float, **inputs: Any) -> bpy.types.Node:
        n = nodes.new(kind)
        n.location = (x, y)
        for name, value in inputs.items():
            n.inputs[name].default_value = value  # type: ignore[attr-defined]  # stubs: base socket
        return n

    gin = node('NodeGroupInput', -800, 0)
    gout = node('NodeGroupOutput', 600, 0)
    to_curve = node('GeometryNodeMeshToCurve', -500, 150)
    tube_radius = node('ShaderNodeMath', -700, -150)
    tube_radius.operation = 'MULTIPLY'  # type: ignore[attr-defined]  # stubs: base Node
    tube_radius.inputs[1].default_value = 0.35  # type: ignore[attr-defined]  # stubs: base socket
    circle = node('GeometryNodeCurvePrimitiveCircle', -500, -50, Resolution=12)
    to_mesh = node('GeometryNodeCurveToMesh', -250, 150)
    sphere = node('GeometryNodeMeshIcoSphere', -500, -250, Subdivisions=2)
    instance = node('GeometryNodeInstanceOnPoints', -250, -100)
    realize = node('GeometryNodeRealizeInstances', 0, -100)
    join = node('GeometryNodeJoinGeometry', 150, 0)
    smooth = node('GeometryNodeSetShadeSmooth', 300, 0)
    set_material = node('GeometryNodeSetMaterial', 450, 0)
    links.new(gin.outputs["Geometry"], to_curve.inputs["Mesh"])
    links.new(gin.outputs["Radius"], tube_radius.inputs[0])
    links.new(tube_radius.outputs[0], circle.inputs["Radius"])
    links.new(to_curve.outputs["Curve"], to_mesh.inputs["Curve"])
    links.new(circle.outputs["Curve"], to_mesh.inputs["Profile Curve"])
    links.new(gin.outputs["Radius"], sphere.inputs["Radius"])
    links.new(gin.outputs["Geometry"], instance.inputs["Points"])
    links.new(sphere.outputs["Mesh"], instance.inputs["Instance"])
    links.new(instance.outputs["Instances"], realize.inputs["Geometry"])
    links.new(to_mesh.outputs["Mesh"], join.inputs["Geometry"])
    links.new(realize.outputs["Geometry"], join.inputs["Geometry"])
    links.new(join.outputs["Geometry"], smooth.inputs["Mesh"])
    links.new(smooth.outputs["Mesh"], set_material.inputs["Geometry"])
    links.new(gin.outputs["Material"], set_material.inputs["Material"])
    links.new(set_material.outputs["Geometry"], gout.inputs["Geometry"])
    return group


def show_as_points(obj: bpy.types.Object, radius: float, kind: str,
                   mat: Optional[bpy.types.Material] = None) -> bpy.types.Modifier:
    """Draw a mesh's vertices as spheres and its edges as tubes (a Geometry Nodes modifier), in
    the shared material of ``kind`` or in ``mat``."""
    group = points_node_group()
    modifier = obj.modifiers.get(POINTS_GROUP) or obj.modifiers.new(POINTS_GROUP, 'NODES')
    if modifier is None:
        raise RuntimeError(f"Could not add a Geometry Nodes modifier to {obj.name!r}")
    modifier.node_group = group  # type: ignore[attr-defined]  # stubs: base Modifier
    sockets = {item.name: item.identifier for item in group.interface.items_tree  # type: ignore[union-attr]
               if getattr(item, "in_out", None) == 'INPUT'}  # interface made above; stubs: base item
    modifier[sockets["Radius"]] = float(radius)
    mat = mat or material(kind)
    modifier[sockets["Material"]] = mat
    materials = mesh.mesh_data(obj).materials
    materials.clear()
    materials.append(mat)
    return modifier
