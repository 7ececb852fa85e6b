# SPDX-License-Identifier: GPL-3.0-or-later
"""Build ordinary Blender data from engine results: the seed demo, signal surfaces, ghosts and
the baked animation. Everything made here renders without the add-on (meshes, shape keys,
keyframes, materials and a built-in Geometry Nodes group). Whatever belongs to a source object
is built in its local coordinates and parented to it, so that it follows the object."""

from __future__ import annotations

from typing import Any, Iterable, Optional

import bpy
import numpy as np

from . import mesh, props
from .state import OrderParameter, StoredPrediction

POINTS_GROUP = "SymBreak Points"
MOTION_KEY = "SymBreak Motion"
DEMO_COLLECTION = "SymBreak Demo"

COLORS = {
    "points": (0.92, 0.92, 0.95, 1.0),
    "target": (0.25, 0.85, 0.45, 1.0),
    "ghost": (1.0, 0.72, 0.15, 1.0),
    "text": (0.95, 0.95, 0.95, 1.0),
    "positive": (0.9, 0.08, 0.05, 1.0),
    "negative": (0.06, 0.2, 0.95, 1.0),
}

DEMO_TASKS = [
    # (engine task, object name, label, symmetry breaking)
    ('rectangle-to-square', "Task 1", "Task 1: Rectangle → Square", 'NONE'),
    ('square-to-rectangle', "Task 2", "Task 2: Square → Rectangle", 'NONE'),
    ('square-to-rectangle-broken', "Task 3", "Task 3: Square → Rectangle\nwith x²−y² symmetry breaking", 'L2'),
]


# --- materials ----------------------------------------------------------------------------------

def _principled(mat: bpy.types.Material) -> Optional[bpy.types.Node]:
    if mat.node_tree is None:
        mat.use_nodes = True  # Blender < 5.0 makes materials without nodes
    tree = mat.node_tree
    return next((n for n in tree.nodes if n.type == 'BSDF_PRINCIPLED'), None) if tree else None


def material(kind: str) -> bpy.types.Material:
    """A shared material: 'points', 'target', 'ghost', 'text' or 'signal' (colour attribute)."""
    name = f"SymBreak {kind.title()}"
    mat = bpy.data.materials.get(name)
    if mat is not None:
        return mat
    mat = bpy.data.materials.new(name)
    bsdf = _principled(mat)
    if kind == 'signal':
        mat.diffuse_color = (0.8, 0.8, 0.8, 1.0)  # type: ignore[assignment]  # stubs: any sequence works
        if bsdf is not None:
            attr = mat.node_tree.nodes.new('ShaderNodeAttribute')
            attr.attribute_name = "signal_color"
            attr.location = (bsdf.location[0] - 300, bsdf.location[1])
            mat.node_tree.links.new(attr.outputs["Color"], bsdf.inputs["Base Color"])
            bsdf.inputs["Roughness"].default_value = 0.45  # type: ignore[attr-defined]  # stubs: base socket
    else:
        color = COLORS[kind]
        mat.diffuse_color = color  # type: ignore[assignment]  # stubs: any sequence works
        if bsdf is not None:
            bsdf.inputs["Base Color"].default_value = color  # type: ignore[attr-defined]  # stubs: base socket
            bsdf.inputs["Roughness"].default_value = 0.35  # type: ignore[attr-defined]  # stubs: base socket
            if kind == 'text':
                bsdf.inputs["Emission Color"].default_value = color  # type: ignore[attr-defined]  # stubs: base socket
                bsdf.inputs["Emission Strength"].default_value = 1.0  # type: ignore[attr-defined]  # stubs: base socket
    return mat


# --- objects and collections --------------------------------------------------------------------

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


def _attach(obj: bpy.types.Object, source: bpy.types.Object, role: str) -> bpy.types.Object:
    """Link ``obj`` (built in ``source``'s local coordinates) next to ``source`` and parent it, so
    that it is drawn, and moves, in that frame."""
    for collection in source.users_collection:
        collection.objects.link(obj)
    obj.parent = source
    props.object_settings(obj).role = role
    return obj


def points_node_group() -> bpy.types.NodeTree:
    """Geometry Nodes: a sphere on every vertex and a tube along every edge (built-in nodes only)."""
    group = bpy.data.node_groups.get(POINTS_GROUP)
    if group is not None:
        return group
    group = bpy.data.node_groups.new(POINTS_GROUP, 'GeometryNodeTree')
    if group is None:
        raise RuntimeError(f"Could not create the node group {POINTS_GROUP!r}")
    face = group.interface
    # The stubs only allow socket_type='DEFAULT'; any socket type name is valid.
    face.new_socket("Geometry", in_out='INPUT', socket_type='NodeSocketGeometry')  # type: ignore[arg-type]
    radius_socket = face.new_socket("Radius", in_out='INPUT', socket_type='NodeSocketFloat')  # type: ignore[arg-type]
    radius_socket.default_value = 0.06
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


def show_as_points(obj: bpy.types.Object, radius: float, kind: str) -> bpy.types.Modifier:
    """Draw a mesh's vertices as spheres and its edges as tubes (a Geometry Nodes modifier)."""
    group = points_node_group()
    modifier = obj.modifiers.get(POINTS_GROUP) or obj.modifiers.new(POINTS_GROUP, 'NODES')
    if modifier is None:
        raise RuntimeError(f"Could not add a Geometry Nodes modifier to {obj.name!r}")
    modifier.node_group = group  # type: ignore[attr-defined]  # stubs: base Modifier
    sockets = {item.name: item.identifier for item in group.interface.items_tree
               if getattr(item, "in_out", None) == 'INPUT'}
    modifier[sockets["Radius"]] = float(radius)
    modifier[sockets["Material"]] = material(kind)
    if not obj.data.materials:
        obj.data.materials.append(material(kind))
    return modifier


def text_object(name: str, body: str, location: Iterable[float], size: float,
                collection: Optional[bpy.types.Collection]) -> bpy.types.Object:
    """A centred text, linked to ``collection`` (or nowhere yet, when None)."""
    curve: bpy.types.TextCurve = bpy.data.curves.new(name, 'FONT')  # type: ignore[assignment]  # stubs: base Curve
    curve.body = body
    curve.align_x = 'CENTER'
    curve.align_y = 'TOP'
    curve.size = size
    curve.materials.append(material('text'))
    obj = bpy.data.objects.new(name, curve)
    obj.location = tuple(location)
    props.object_settings(obj).role = 'LABEL'
    return obj if collection is None else link(obj, collection)


# --- the seed demo ------------------------------------------------------------------------------

def add_seed_demo(scene: bpy.types.Scene, *, spacing: float = 3.0, point_radius: float = 0.06) -> list[bpy.types.Object]:
    """The tutorial's three tasks side by side, each with a 'Target' shape key, a label and a
    collection of its own. Returns the three task objects."""
    from ..engine import TASKS

    root = bpy.data.collections.new(DEMO_COLLECTION)
    scene.collection.children.link(root)
    made = []
    for i, (task_name, obj_name, label, breaking) in enumerate(DEMO_TASKS):
        task = TASKS[task_name]
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
        state.breaking, state.axis_a, state.axis_b = breaking, 'X', 'Y'
        show_as_points(obj, point_radius, 'points')
        low = min(start[:, 1].min(), end[:, 1].min())
        text_object(f"{obj_name} Label", label, ((i - 1) * spacing, low - 0.45, 0.0), 0.22, collection)
        made.append(obj)
    title = "Curie's principle: an equivariant network's output is at least as symmetric as its input"
    text_object("SymBreak Title", title, (0.0, 1.9, 0.0), 0.26, root)
    return made


# --- signal surfaces ----------------------------------------------------------------------------

def signal_colors(values: np.ndarray) -> np.ndarray:
    """RGBA ``(..., 4)`` float32: red where f > 0, blue where f < 0, brighter with |f| (per surface)."""
    values = np.asarray(values, dtype=np.float32)
    magnitude = np.abs(values)
    peak = magnitude.max(axis=-1, keepdims=True)
    shade = 0.35 + 0.65 * magnitude / np.where(peak > 0, peak, 1.0)
    positive, negative = (np.array(COLORS[k][:3], dtype=np.float32) for k in ("positive", "negative"))
    out = np.empty(values.shape + (4,), dtype=np.float32)
    out[..., :3] = np.where((values >= 0)[..., None], positive, negative)
    out[..., :3] *= shade[..., None]
    out[..., 3] = 1.0
    return out


def _surface_mesh(name: str, surf: Any) -> bpy.types.Mesh:
    """One mesh holding every surface of an ``engine.signals.Surfaces``, coloured by sign: copies
    of the shared icosphere layout, everything written with ``foreach_set``."""
    data = mesh.new_tiled_mesh(name, surf.vertices, surf.faces)
    mesh.set_point_colors(data, "signal_color", signal_colors(surf.values).reshape(-1, 4))
    mesh.set_point_floats(data, "signal", surf.values.reshape(-1))
    mesh.smooth_faces(data)
    data.materials.append(material('signal'))
    return data


def build_signals(source: bpy.types.Object, p: StoredPrediction, *, scale: float, level: int) -> bpy.types.Object:
    """One mesh holding a surface :math:`r = s|f(u)|` per vertex, coloured by sign (vectorised: the
    engine returns every surface at once)."""
    from ..engine import signals

    coefficients = p.signals
    if coefficients.shape[1] == 3:  # 'vector' output: draw each vector as its L ≤ 1 signal
        coefficients = signals.project(p.displacements, lmax=1)
    surf = signals.surfaces(coefficients, p.start, scale=scale, level=level)
    remove_object(child(source, 'SIGNALS'))
    name = f"{source.name} Signals"
    obj = bpy.data.objects.new(name, _surface_mesh(name, surf))
    obj["symbreak_surface_vertices"] = int(surf.vertices.shape[1])
    return _attach(obj, source, 'SIGNALS')


ORDER_PARAMETER_SIZE = 0.3  # the surface's largest radius, relative to the points' rms radius


def build_order_parameter(source: bpy.types.Object, p: OrderParameter, points: np.ndarray, *,
                          level: int) -> bpy.types.Object:
    """A global order parameter's surface :math:`r \\propto |f(u)|` at the centre of the local
    ``points`` ``(N, 3)``, its largest radius ``ORDER_PARAMETER_SIZE`` times their rms radius,
    with its description as a label to the right. Replaces the previous one."""
    from ..engine import signals

    centre = points.mean(axis=0)
    radius = ORDER_PARAMETER_SIZE * float(np.sqrt(((points - centre) ** 2).sum(axis=1).mean()))
    signal = p.signal()[None]
    peak = np.abs(signals.evaluate(signal, signals.sphere_grid(level)[0])).max()
    surf = signals.surfaces(signal, centre[None], scale=radius / peak, level=level)
    remove_object(child(source, 'ORDER_PARAMETER'))
    remove_object(child(source, 'LABEL'))
    name = f"{source.name} Order Parameter"
    obj = _attach(bpy.data.objects.new(name, _surface_mesh(name, surf)), source, 'ORDER_PARAMETER')
    reach = float(np.linalg.norm(points - centre, axis=1).max())
    label = text_object(f"{name} Label", f"order parameter\n{p.description}",
                        centre + (1.3 * reach, 0.0, 0.0), 0.75 * radius, None)
    label.data.align_x, label.data.align_y = 'LEFT', 'CENTER'
    _attach(label, source, 'LABEL')
    return obj


# --- animation ----------------------------------------------------------------------------------

def _fcurves(id_data: Any) -> Any:
    """The F-curves of an ID's action (layered actions in Blender ≥ 4.4, plain before)."""
    anim = id_data.animation_data
    action = anim.action
    if hasattr(action, "fcurves") and not hasattr(anim, "action_slot"):
        return action.fcurves
    from bpy_extras import anim_utils
    return anim_utils.action_get_channelbag_for_slot(action, anim.action_slot).fcurves


def key_motion(block: bpy.types.ShapeKey, frame_start: int, frame_end: int, easing: str) -> None:
    """Keyframe a shape key's value 0 → 1 over the frame range with the chosen easing."""
    keys = block.id_data
    if keys.animation_data is not None and keys.animation_data.action is not None:
        for fcurve in list(_fcurves(keys)):
            if fcurve.data_path == f'key_blocks["{block.name}"].value':
                _fcurves(keys).remove(fcurve)
    block.value = 0.0
    block.keyframe_insert("value", frame=frame_start)
    block.value = 1.0
    block.keyframe_insert("value", frame=frame_end)
    for fcurve in _fcurves(keys):
        if fcurve.data_path == f'key_blocks["{block.name}"].value':
            for point in fcurve.keyframe_points:
                if easing == 'LINEAR':
                    point.interpolation = 'LINEAR'
                else:
                    point.interpolation = 'SINE'
                    point.easing = easing
            fcurve.update()


def _moving_points(name: str, start: np.ndarray, end: np.ndarray, edges: Optional[np.ndarray] = None) -> bpy.types.Object:
    data = mesh.new_mesh(name, start, edges=edges)
    obj = bpy.data.objects.new(name, data)
    mesh.set_shape_key(obj, MOTION_KEY, end)
    return obj


def animate(source: bpy.types.Object, p: StoredPrediction, *, frame_start: int, frame_end: int,
            easing: str, target: Optional[np.ndarray], show_ambiguous: bool,
            signals_motion: str, point_radius: float) -> dict[str, int]:
    """Bake the motion start → predicted into shape keys and keyframes, in ``source``'s local
    coordinates (the prediction's and the ``target``'s).

    Vertices with a clear peak move to their predicted position. Ambiguous vertices (tied peaks)
    stay put, and a ghost travels from each towards every tied peak, so that no peak is chosen
    silently. Signal surfaces follow their vertex, fade (shrink into it) or stay.
    """
    moving = ~p.ambiguous
    end = mesh.positions(mesh.mesh_data(source))
    end[p.indices[moving]] = p.predicted[moving]
    block = mesh.set_shape_key(source, MOTION_KEY, end)
    block.slider_min, block.slider_max = 0.0, 1.0
    key_motion(block, frame_start, frame_end, easing)

    result = {"moving": int(moving.sum()), "ghosts": 0}
    remove_object(child(source, 'GHOSTS'))
    if show_ambiguous and p.ambiguous.any():
        counts = np.array([len(k) for k in p.peaks])
        amb = np.flatnonzero(p.ambiguous)
        ghost_start = np.repeat(p.start[amb], counts[amb], axis=0)
        ghost_end = ghost_start + np.concatenate([np.asarray(p.peaks[i]).reshape(-1, 3) for i in amb])
        ghosts = _attach(_moving_points(f"{source.name} Tied Peaks", ghost_start, ghost_end), source, 'GHOSTS')
        show_as_points(ghosts, point_radius * 0.8, 'ghost')
        key_motion(ghosts.data.shape_keys.key_blocks[MOTION_KEY], frame_start, frame_end, easing)
        result["ghosts"] = len(ghost_start)

    remove_object(child(source, 'TARGET'))
    if target is not None:
        edges = _edges_within(mesh.mesh_data(source), p.indices)
        data = mesh.new_mesh(f"{source.name} Target", target, edges=edges)
        target_obj = _attach(bpy.data.objects.new(f"{source.name} Target", data), source, 'TARGET')
        show_as_points(target_obj, point_radius * 0.6, 'target')

    signals_obj = child(source, 'SIGNALS')
    if signals_obj is not None and signals_motion != 'STATIC':
        per = int(signals_obj.get("symbreak_surface_vertices", 0))
        if per and len(signals_obj.data.vertices) == per * len(p.indices):
            here = mesh.positions(mesh.mesh_data(signals_obj)).reshape(len(p.indices), per, 3)
            shift = np.where(moving[:, None], p.displacements, 0.0)
            if signals_motion == 'FOLLOW':
                there = here + shift[:, None, :]
            else:
                there = np.broadcast_to((p.start + shift)[:, None, :], here.shape)
            key = mesh.set_shape_key(signals_obj, MOTION_KEY, there.reshape(-1, 3))
            key_motion(key, frame_start, frame_end, easing)
    return result


def _edges_within(data: bpy.types.Mesh, indices: np.ndarray) -> np.ndarray:
    """Edges of ``data`` with both ends in ``indices``, renumbered into ``indices``."""
    edges = np.empty(len(data.edges) * 2, dtype=np.int32)
    data.edges.foreach_get("vertices", edges)
    edges = edges.reshape(-1, 2)
    where = np.full(len(data.vertices), -1)
    where[indices] = np.arange(len(indices))
    mapped = where[edges]
    return mapped[(mapped >= 0).all(axis=1)]
