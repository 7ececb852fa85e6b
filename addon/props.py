# SPDX-License-Identifier: GPL-3.0-or-later
"""Settings: one root group on the scene (training, display, render) and per-object state."""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from ..engine import api

AXES = [
    ('X', "X", "The object's local x axis"),
    ('Y', "Y", "The object's local y axis"),
    ('Z', "Z", "The object's local z axis"),
]

TASK_ITEMS = [(name, task.title, f"The seed's task {task.title}") for name, task in api.TASKS.items()]

# Hard bounds (a script can set more than the slider's soft maximum): training steps, and
# Blender's last frame (MAXFRAME).
MAX_ITERATIONS = 100_000
MAX_FRAME = 1_048_574


def _is_other_mesh(own: bpy.types.PropertyGroup, obj: bpy.types.Object) -> bool:
    """A mesh other than the object whose settings ``own`` are (its target cannot be itself)."""
    return obj.type == 'MESH' and obj != own.id_data


class SymBreakTraining(bpy.types.PropertyGroup):
    lmax: IntProperty(name="L max", description="Highest degree of the spherical-harmonic signals",
                      default=5, min=1, max=8)
    layers: IntProperty(name="Layers", description="Convolution layers", default=3, min=1, max=8)
    channels: IntProperty(name="Channels",
                          description="Copies of each degree in the hidden features, 0 to choose: one over all "
                                      f"pairs, as in the seed, and {api.MESH_CHANNELS} on a radius graph, where one "
                                      "learns too little",
                          default=0, min=0, max=api.MAX_CHANNELS)
    graph: EnumProperty(
        name="Graph",
        description="Which vertices each vertex convolves over",
        items=[
            ('AUTO', "Automatic", "All pairs up to 100 vertices, as in the seed; above that, a radius graph "
                                  "with a radius chosen from the mesh (about 12 neighbours a vertex)"),
            ('ALL_PAIRS', "All Pairs", "Every vertex with every vertex, itself included, as in the seed "
                                       "(at most 100 vertices)"),
            ('RADIUS', "Radius", "Only vertices closer than Radius"),
        ],
        default='AUTO')
    radius: FloatProperty(name="Radius", description="Neighbour cutoff of the radius graph",
                          default=1.5, min=0.001, soft_max=100.0)
    hub: BoolProperty(name="Hub", description="On a radius graph, one more point at the centroid joined to every "
                                              "vertex, so that each vertex sees where it sits in the whole mesh",
                      default=True)
    iterations: IntProperty(name="Iterations",
                            description="Most training steps, 0 to choose them from the graph's size; training "
                                        "stops earlier once the fit is reached or stalls",
                            default=0, min=0, soft_max=5000, max=MAX_ITERATIONS)
    learning_rate: FloatProperty(name="Learning Rate", description="Where the decaying learning rate starts",
                                 default=api.LR, min=1e-7, max=1.0, precision=5, step=0.01)
    seed: IntProperty(name="Seed", description="Random seed of the weights", default=0, min=0,
                      max=2**31 - 1)
    output: EnumProperty(
        name="Output",
        items=[('signal', "Signal", "A spherical-harmonic signal whose peak is the displacement (the seed)"),
               ('vector', "Vector", "An L=1 displacement vector")],
        default='signal')


class SymBreakDisplay(bpy.types.PropertyGroup):
    signal_scale: FloatProperty(name="Signal Scale", description="Radius of a surface per unit of |f|",
                                default=1.5, min=0.0, soft_max=10.0)
    signal_level: IntProperty(name="Resolution", description="Icosphere subdivisions of each surface",
                              default=3, min=1, max=6)
    point_radius: FloatProperty(name="Point Radius", description="Radius of point and ghost spheres",
                                default=0.06, min=0.001, soft_max=1.0)
    frame_start: IntProperty(name="Start", description="Frame where the motion starts", default=12, min=0,
                             max=MAX_FRAME - 1)
    frame_end: IntProperty(name="End", description="Frame where the motion ends", default=60, min=1,
                           max=MAX_FRAME)
    easing: EnumProperty(
        name="Easing",
        items=[('EASE_IN_OUT', "Ease In and Out", ""), ('EASE_IN', "Ease In", ""),
               ('EASE_OUT', "Ease Out", ""), ('LINEAR', "Linear", "")],
        default='EASE_IN_OUT')
    show_target: BoolProperty(name="Target Ghosts", description="Show the target positions",
                              default=True)
    show_ambiguous: BoolProperty(
        name="Tied Peaks", description="Ambiguous vertices send a ghost to every tied peak",
        default=True)
    signals_motion: EnumProperty(
        name="Signals",
        items=[('FOLLOW', "Follow", "Surfaces travel with their vertex"),
               ('FADE', "Fade", "Surfaces shrink away while the vertex moves"),
               ('STATIC', "Static", "Surfaces stay where they are")],
        default='FOLLOW')


class SymBreakRender(bpy.types.PropertyGroup):
    resolution: EnumProperty(
        name="Resolution",
        items=[('1280x720', "720p", "1280×720"), ('1920x1080', "1080p", "1920×1080"),
               ('3840x2160', "4K", "3840×2160"), ('640x360', "360p", "640×360"),
               ('SCENE', "Scene", "Keep the scene's resolution")],
        default='1280x720')
    fps: EnumProperty(
        name="Frame Rate",
        items=[('24', "24 fps", ""), ('25', "25 fps", ""), ('30', "30 fps", ""), ('60', "60 fps", "")],
        default='24')
    duration: FloatProperty(name="Duration", description="Seconds of video; 0 keeps the scene's frame range",
                            default=0.0, min=0.0, soft_max=60.0, unit='TIME_ABSOLUTE')
    engine: EnumProperty(
        name="Engine",
        items=[('WORKBENCH', "Workbench", "Fast, the default"),
               ('EEVEE', "EEVEE", "Rasterised with lighting (slow start headless)"),
               ('CYCLES', "Cycles", "Path traced")],
        default='WORKBENCH')
    samples: IntProperty(name="Samples", description="Samples for EEVEE and Cycles", default=16, min=1,
                         soft_max=1024)
    filepath: StringProperty(name="Output", description="Where the MP4 is written",
                             default="//symbreak.mp4", subtype='FILE_PATH')


class SymBreakSettings(bpy.types.PropertyGroup):
    training: PointerProperty(type=SymBreakTraining)
    display: PointerProperty(type=SymBreakDisplay)
    render: PointerProperty(type=SymBreakRender)


class SymBreakObject(bpy.types.PropertyGroup):
    """What the add-on needs to know about one object; large arrays live in ID properties."""

    target_mode: EnumProperty(
        name="Target",
        items=[('SHAPE_KEY', "Shape Key", "A shape key of the same mesh"),
               ('OBJECT', "Object", "Another mesh with the same vertex count and order: vertex i moves to its "
                                    "vertex i, where each is in the scene (its offset from this object is motion)"),
               ('TASK', "Preset Task", "The displacements of one of the seed's tasks, along the object's axes")],
        default='SHAPE_KEY')
    target_shape_key: StringProperty(name="Shape Key", description="The shape key of this mesh that holds the "
                                     "target (not the basis)", default="Target")
    target_object: PointerProperty(name="Object", description="The mesh whose vertex i is the target of vertex i",
                                   type=bpy.types.Object, poll=_is_other_mesh)
    task: EnumProperty(name="Task", items=TASK_ITEMS, default='rectangle-to-square')
    breaking: EnumProperty(
        name="Symmetry Breaking",
        items=[('NONE', "None", "Only a scalar 1 on every point"),
               ('AXIS_PAIR', "Axis Pair", "A global L=2 input Y₂(a) − Y₂(b) of the object's axes, e.g. x²−y²"),
               ('ORDER_PARAMETER', "Order Parameter",
                "The global order parameter suggested by Analyze Symmetry (Use Order Parameter sets it)"),
               ('VERTEX_GROUP', "Vertex Group", "A per-vertex scalar from a vertex group's weights"),
               ('LEARNED', "Learned Order Parameter",
                "The global order parameter found by gradient descent (Learn Order Parameter finds it)")],
        default='NONE')
    axis_a: EnumProperty(name="Axis A", items=AXES, default='X')
    axis_b: EnumProperty(name="Axis B", items=AXES, default='Y')
    vertex_group: StringProperty(name="Vertex Group", default="")
    types_attribute: StringProperty(
        name="Types", default="species",
        description="An integer vertex attribute giving each vertex's type (e.g. an atom's species): only "
                    "vertices of one type are exchanged by a symmetry, and the network reads each type. "
                    "Without such an attribute, all vertices are alike")
    role: EnumProperty(
        name="Role",
        items=[('SOURCE', "Source", ""), ('SIGNALS', "Signals", ""), ('GHOSTS', "Ghosts", ""),
               ('TARGET', "Target", ""), ('LABEL', "Label", ""),
               ('ORDER_PARAMETER', "Order Parameter", "")],
        default='SOURCE')
    final_loss: FloatProperty(name="Final Loss", description="The engine's final loss of the latest training",
                              default=0.0)
    train_seconds: FloatProperty(name="Training Time", description="Seconds the latest Train took, from the "
                                 "click to the result, its symmetry check included", default=0.0)


CLASSES = [
    SymBreakTraining,
    SymBreakDisplay,
    SymBreakRender,
    SymBreakSettings,
    SymBreakObject,
]


def settings(context: bpy.types.Context) -> SymBreakSettings:
    """The settings of the context's scene (operators and panels poll for a scene first)."""
    if context.scene is None:
        raise ValueError("No scene")
    return scene_settings(context.scene)


def scene_settings(scene: bpy.types.Scene) -> SymBreakSettings:
    """``scene.symbreak``, the pointer ``addon.register`` adds to every scene (unknown to the stubs)."""
    return scene.symbreak  # type: ignore[attr-defined]  # registered at runtime


def object_settings(obj: bpy.types.Object) -> SymBreakObject:
    """``obj.symbreak``, the pointer ``addon.register`` adds to every object (unknown to the stubs)."""
    return obj.symbreak  # type: ignore[attr-defined]  # registered at runtime
