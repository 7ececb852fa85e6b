"""Helpers shared by the engine tests (test modules never import each other)."""

import numpy as np
import torch
from e3nn import o3


def wigner(irreps, R) -> np.ndarray:
    """``irreps.D_from_matrix(R)`` exact in float64, as numpy (e3nn builds its generators in the
    default dtype, so it is switched to float64 for the call)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return o3.Irreps(irreps).D_from_matrix(torch.as_tensor(np.asarray(R), dtype=torch.float64)).numpy()
    finally:
        torch.set_default_dtype(previous)


def random_orthogonal(generator: torch.Generator, inversion: bool = False) -> np.ndarray:
    """A uniformly random rotation (times -I with ``inversion``), ``(3, 3)`` float64."""
    q = torch.randn(4, generator=generator, dtype=torch.float64)
    R = o3.quaternion_to_matrix(q / q.norm()).numpy()
    return -R if inversion else R


def rotations(seed: int = 0, count: int = 3) -> list[np.ndarray]:
    """``count`` random rotations, each followed by itself composed with the inversion."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        R = random_orthogonal(generator)
        out += [R, -R]
    return out


# --- Blender: helpers shared by the add-on tests (tests/test_addon_*.py, bpy imported when called) ---

def described_polynomial(description: str, points) -> np.ndarray:
    """The polynomial that an order parameter's description ``'... ∝ x² − 0.5yz'`` names,
    evaluated at ``(P, 3)`` points in the object's axes."""
    import re

    text = description.split("∝ ")[1].replace("−", "-").replace(" ", "")
    powers = str.maketrans("²³⁴⁵⁶⁷⁸⁹", "23456789")
    values = np.zeros(len(points))
    for sign, size, monomial in re.findall(r"([+-]?)(\d*\.?\d*)((?:[xyz][²³⁴⁵⁶⁷⁸⁹]?)+)", text):
        term = float(size or 1) * (-1 if sign == "-" else 1) * np.ones(len(points))
        for axis, power in re.findall(r"([xyz])(\d?)", monomial.translate(powers)):
            term *= points[:, "xyz".index(axis)] ** int(power or 1)
        values += term
    return values


def activate(obj):
    """Make ``obj`` the only selected and the active object (None: nothing active)."""
    import bpy

    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    if obj is not None:
        obj.select_set(True)
    bpy.context.view_layer.objects.active = obj


def select_vertices(obj, flags):
    """Object-mode selection that survives entering Edit Mode (edges and faces too)."""
    data = obj.data
    data.vertices.foreach_set("select", np.asarray(flags, dtype=bool))
    edges = np.empty(len(data.edges) * 2, dtype=np.int32)
    data.edges.foreach_get("vertices", edges)
    data.edges.foreach_set("select", np.asarray(flags, dtype=bool)[edges.reshape(-1, 2)].all(axis=1))
    data.polygons.foreach_set("select", np.zeros(len(data.polygons), dtype=bool))


def train_selected(obj, flags):
    """Train ``obj`` in Edit Mode on the vertices ``flags`` selects, back in Object Mode after."""
    import bpy

    select_vertices(obj, flags)
    bpy.ops.object.mode_set(mode='EDIT')
    try:
        assert bpy.ops.symbreak.train() == {'FINISHED'}
    finally:
        bpy.ops.object.mode_set(mode='OBJECT')


def demo():
    """Add the seed demo: the objects Task 1, 2 and 3."""
    import bpy

    assert bpy.ops.symbreak.add_seed_demo() == {'FINISHED'}
    return [bpy.data.objects[f"Task {i}"] for i in (1, 2, 3)]


def trained(name="Task 1"):
    """The demo with ``name`` trained (the scene's iterations)."""
    import bpy

    demo()
    obj = bpy.data.objects[name]
    activate(obj)
    assert bpy.ops.symbreak.train() == {'FINISHED'}
    return obj


def evaluated(obj, frame, world=False):
    """Local (or world) vertex positions after shape keys at ``frame``, without the display modifier."""
    import bpy

    from symbreak.addon import mesh

    for modifier in obj.modifiers:
        modifier.show_viewport = False
    bpy.context.scene.frame_set(frame)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    evaluated_obj = obj.evaluated_get(depsgraph)
    out = mesh.positions(evaluated_obj.to_mesh())
    evaluated_obj.to_mesh_clear()
    for modifier in obj.modifiers:
        modifier.show_viewport = True
    return mesh.to_world(evaluated_obj, out) if world else out


def snapshot():
    """Everything an operator could change by mistake: stored keys and their values, meshes,
    shape keys, animation, children, settings, data-block counts, the scene's frames."""
    import bpy

    from symbreak.addon import mesh

    objects = {}
    for obj in bpy.data.objects:
        keys = {k: repr(obj[k].to_dict() if hasattr(obj[k], "to_dict") else
                        obj[k].to_list() if hasattr(obj[k], "to_list") else obj[k])
                for k in obj.keys() if k.startswith("symbreak")}
        data = None
        if obj.type == 'MESH':
            data = (mesh.positions(obj.data).round(6).tobytes(), tuple(mesh.shape_key_names(obj)),
                    obj.data.shape_keys is not None and obj.data.shape_keys.animation_data is not None)
        own = obj.symbreak
        objects[obj.name] = (keys, data, tuple(c.name for c in obj.children), obj.mode,
                             (own.breaking, own.final_loss, own.target_mode))
    collections = {k: len(getattr(bpy.data, k)) for k in
                   ("objects", "meshes", "materials", "collections", "node_groups", "actions", "images")}
    scene = bpy.context.scene
    return objects, collections, (scene.frame_start, scene.frame_end, scene.render.filepath)


def expect_cancelled(op, match, **kwargs):
    """``op`` reports an error matching ``match`` and changes nothing."""
    import pytest

    before = snapshot()
    with pytest.raises(RuntimeError, match=match):  # bpy turns an ERROR report into RuntimeError
        op(**kwargs)
    assert snapshot() == before


def fcurves(id_data):
    from symbreak.addon.build.keys import fcurves

    return fcurves(id_data)


class Layout:
    """Records what a panel draws."""

    def __init__(self, drawn):
        self.drawn = drawn

    def label(self, text="", **_):
        assert isinstance(text, str), text  # as Blender's own layout insists
        self.drawn.append(text)

    def operator(self, idname, **_):
        self.drawn.append(idname)

    def progress(self, text="", **_):
        assert isinstance(text, str), text
        self.drawn.append(text)

    def __getattr__(self, name):  # box, row, column, prop, separator, ...
        return lambda *args, **kwargs: self


def draw(panel):
    """The texts and operators ``panel`` draws in the current context."""
    import bpy
    from types import SimpleNamespace

    drawn = []
    panel.draw(SimpleNamespace(layout=Layout(drawn)), bpy.context)
    return drawn
