# SPDX-License-Identifier: GPL-3.0-or-later
"""The sidebar tab "SymBreak" (draw code only).

SymBreak works in the active object's own (local) coordinates: the source, the target (another
mesh is converted into this frame), axis pairs, presets and stored results are all in the object's
axes, and what it draws is parented to the object, so that moving, rotating or scaling the object
afterwards carries everything with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import bpy
import numpy as np

from ..engine import api
from . import inputs, jobs, mesh, preferences, props, storage

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import RegionTypeItems, SpaceTypeItems


class SymBreakPanel:
    # Panel's own types, so that mixing this into Panel type-checks (a bare 'VIEW_3D' is a str).
    bl_space_type: SpaceTypeItems = 'VIEW_3D'
    bl_region_type: RegionTypeItems = 'UI'
    bl_category = "SymBreak"


class SymBreakSubPanel(SymBreakPanel):
    """A section of the main panel, hidden while the engine cannot load (the main panel says why)."""

    bl_parent_id = "SYMBREAK_PT_main"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return not isinstance(preferences.engine_status(), str)


class SYMBREAK_PT_main(SymBreakPanel, bpy.types.Panel):
    bl_label = "SymBreak"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        if layout is None:  # Blender sets it before draw
            return
        layout.operator("symbreak.add_seed_demo", icon='ADD')
        if draw_engine(layout):
            return
        obj = context.active_object
        if obj is None or obj.type != 'MESH':
            layout.label(text="Select a mesh to train", icon='INFO')
            return
        s = props.object_settings(obj)
        box = layout.box()
        where = "selected vertices" if obj.mode == 'EDIT' else "all vertices"
        box.label(text=f"Source: {obj.name} ({where}, in its own axes)", icon='MESH_DATA')
        box.prop(s, "types_attribute")  # a plain field: a mesh without the attribute is simply untyped
        box.prop(s, "target_mode")
        if s.target_mode == 'SHAPE_KEY':
            draw_target_keys(box, obj)
        elif s.target_mode == 'OBJECT':
            box.prop(s, "target_object")
            draw_target_object(box, obj)
        else:
            box.prop(s, "task")
        box.prop(s, "breaking")
        if s.breaking == 'AXIS_PAIR':
            row = box.row(align=True)
            row.prop(s, "axis_a", text="")
            row.label(text="−")
            row.prop(s, "axis_b", text="")
        elif s.breaking == 'VERTEX_GROUP':
            box.prop_search(s, "vertex_group", obj, "vertex_groups")
        elif s.breaking == 'ORDER_PARAMETER':
            found, damaged = storage.readable(storage.order_parameter, obj)
            box.label(text=damaged or (found.description if found else "None yet: Analyze Symmetry"), icon='INFO')
        elif s.breaking == 'LEARNED':
            found, damaged = storage.readable(storage.learned_order_parameter, obj)
            box.label(text=damaged or (found.description if found else "None yet: Learn Order Parameter"),
                      icon='INFO')


def draw_target_keys(layout: bpy.types.UILayout, obj: bpy.types.Object) -> None:
    """The chooser among the mesh's own shape keys, in red with what to do while it names none
    that can hold a target (:func:`inputs.target_keys`)."""
    s, keys = props.object_settings(obj), inputs.target_keys(obj)
    shape_keys = mesh.mesh_data(obj).shape_keys
    if shape_keys is not None:
        row = layout.row()
        row.alert = s.target_shape_key not in keys
        row.prop_search(s, "target_shape_key", shape_keys, "key_blocks", text="Shape Key")
    if not keys:
        have = "Only a basis key" if shape_keys is not None else "No shape keys"
        layout.label(text=f"{have}: add a key that holds the target", icon='ERROR')
    elif s.target_shape_key not in keys:
        shown = ", ".join(keys[:3]) + (", …" if len(keys) > 3 else "")
        layout.label(text=f"Choose the target key: {shown}", icon='ERROR')


def draw_target_object(layout: bpy.types.UILayout, obj: bpy.types.Object) -> None:
    """How a target object is paired with the source, and a vertex count that cannot pair."""
    other = props.object_settings(obj).target_object
    layout.label(text="Paired by vertex index, in world space", icon='INFO')
    if other is None or other.type != 'MESH':
        return
    mine, theirs = len(mesh.mesh_data(obj).vertices), len(mesh.mesh_data(other).vertices)
    if other == obj:
        layout.label(text="The source itself: choose another mesh", icon='ERROR')
    elif mine != theirs:
        layout.label(text=f"{other.name} has {theirs} vertices, {obj.name} {mine}", icon='ERROR')


def draw_engine(layout: bpy.types.UILayout) -> bool:
    """Say that the engine is still loading; or draw why it cannot load and which zip to install
    instead, and return True: then no operator that needs it is drawn."""
    job = jobs.loading
    if job is not None and not job.done:
        layout.label(text="Loading the engine (torch, e3nn)…", icon='TIME')
    return preferences.draw_unavailable(layout)


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: np.ndarray, width: int = 32) -> str:
    """A text sparkline of :math:`\\log_{10}` of the positive finite ``values``, at most ``width``
    characters, the lowest bar for the smallest value."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values) & (values > 0)]
    if len(values) == 0:
        return ""
    idx = np.linspace(0, len(values) - 1, min(width, len(values))).round().astype(int)
    y = np.log10(values[idx])
    span = y.max() - y.min()
    level = np.zeros_like(y) if span == 0 else (y - y.min()) / span
    return "".join(_BARS[int(round(v * (len(_BARS) - 1)))] for v in level)


def draw_progress(layout: bpy.types.UILayout, what: str) -> None:
    """A progress bar for the running job, if it is ``what`` {'analyzing', 'training', 'learning', 'predicting'}."""
    job = jobs.current
    if job is None or job.done or job.what != what:
        return
    if what in ('predicting', 'analyzing'):
        layout.label(text=f"{what.capitalize()}… (Esc cancels)", icon='TIME')
        return
    layout.progress(factor=job.iteration / max(1, job.total), type='BAR',
                    text=f"Step {job.iteration}/{job.total}  loss {job.loss:.4g}  (Esc cancels)")


def draw_warning(layout: bpy.types.UILayout, record: Optional[dict[str, Any]]) -> None:
    """The stored Curie warning, if any, with the button that fixes it."""
    if record is None or not record.get("warning"):
        return
    box = layout.box()
    box.label(text=f"Not learnable with {record['inputs']}", icon='ERROR')
    if api.fixes_target(record):
        box.operator("symbreak.use_order_parameter", icon='CHECKMARK')


def draw_fit(layout: bpy.types.UILayout, obj: bpy.types.Object) -> None:
    """How close the latest training came: position errors over the largest displacement."""
    fit, damaged = storage.readable(storage.fit, obj)
    if damaged:
        layout.label(text=damaged, icon='ERROR')
    elif fit is not None:
        on_target = fit.within == 1.0
        layout.label(text=f"max error {100 * fit.max_error:.3g} %, mean {100 * fit.mean_error:.3g} % "
                          f"of the largest displacement {fit.largest_displacement:.3g}",
                     icon='CHECKMARK' if on_target else 'INFO')
        layout.label(text=f"{100 * fit.within:.0f} % of vertices within {100 * fit.WITHIN:.0f} % of their target")


def draw_learned(layout: bpy.types.UILayout, obj: bpy.types.Object) -> None:
    """The learned order parameter: its share of the norm per degree L, and the buttons that use
    and draw it."""
    found, damaged = storage.readable(storage.learned_order_parameter, obj)
    if damaged:
        layout.label(text=damaged, icon='ERROR')
    if found is None:
        return
    shares = found.shares()
    top = max(shares, key=shares.__getitem__)
    col = layout.box().column(align=True)
    col.label(text=f"Learned order parameter: L={top} dominates")
    for l, share in shares.items():
        col.label(text=f"L={l}  {share:5.1f}%  {'█' * round(share / 10)}")
    row = col.row(align=True)
    row.prop_enum(props.object_settings(obj), "breaking", 'LEARNED', text="Use")
    row.operator("symbreak.show_order_parameter", text="Show", icon='SPHERE')


class SYMBREAK_PT_symmetry(SymBreakSubPanel, bpy.types.Panel):
    bl_label = "Analyze Symmetry"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return super().poll(context) and context.active_object is not None and context.active_object.type == 'MESH'

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        obj = context.active_object
        if layout is None or obj is None:  # Blender sets the layout in draw; poll needs the object
            return
        row = layout.row(align=True)
        row.operator("symbreak.analyze_symmetry", icon='MOD_MIRROR')
        row.operator("symbreak.learn_order_parameter", text="Learn", icon='SHADERFX')
        draw_progress(layout, "analyzing")
        draw_progress(layout, "learning")
        draw_learned(layout, obj)
        record, damaged = storage.readable(storage.symmetry, obj)
        if damaged:
            layout.label(text=damaged, icon='ERROR')
        if record is None:
            return
        col = layout.box().column(align=True)
        order = record.get("start_order")
        col.label(text=f"Start: {record['start_group']}" + (f" ({order} operations)" if order else ""))
        col.label(text=f"Kept by the target: {record['kept_group']}")
        col.label(text=record["verdict"].split("; ")[0], icon='CHECKMARK' if record["learnable"] else 'ERROR')
        local = record.get("local")
        if isinstance(local, dict) and local.get("indistinguishable"):
            col.label(text=f"{str(local.get('sentence', '')).split(': ')[0]} within the network's reach", icon='ERROR')
        found = storage.suggested_order_parameter(obj)  # checked with the record
        if found is not None:
            col.separator()
            fixes = api.fixes_target(record)
            col.label(text="Order parameter:" if fixes else f"Closest order parameter (keeps {found.symmetry}):")
            col.label(text=found.description)
            row = col.row(align=True)
            if fixes:
                row.operator("symbreak.use_order_parameter", icon='CHECKMARK')
            row.operator("symbreak.show_order_parameter", text="Show", icon='SPHERE')
        if record["warning"]:
            col.label(text=f"Not learnable with {record['inputs']}", icon='ERROR')
        elif not record["learnable"]:
            col.label(text=f"Learnable with {record['inputs']}", icon='CHECKMARK')


class SYMBREAK_PT_network(SymBreakSubPanel, bpy.types.Panel):
    bl_label = "Network"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context: bpy.types.Context) -> None:
        if self.layout is None or context.scene is None:
            return
        t = props.scene_settings(context.scene).training
        col = self.layout.column(align=True)
        col.prop(t, "lmax")
        col.prop(t, "layers")
        col.prop(t, "channels")
        col.prop(t, "output")
        row = col.row(align=True)
        row.prop(t, "graph", text="")
        sub = row.row(align=True)
        sub.active = t.graph == 'RADIUS'
        sub.prop(t, "radius", text="")
        sub = col.row(align=True)
        sub.active = t.graph != 'ALL_PAIRS'
        sub.prop(t, "hub")
        col = self.layout.column(align=True)
        col.prop(t, "iterations")
        col.prop(t, "learning_rate")
        col.prop(t, "seed")


class SYMBREAK_PT_training(SymBreakSubPanel, bpy.types.Panel):
    bl_label = "Training"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        if layout is None:  # Blender sets it before draw
            return
        draw_progress(layout, "training")
        layout.operator("symbreak.train", icon='PLAY')
        obj = inputs.stored_prediction_owner(context)
        if obj is None:
            return
        record, damaged = storage.readable(storage.symmetry, obj)
        draw_warning(layout, record)
        if not storage.has_model(obj):
            return
        losses, damaged = storage.readable(storage.loss_history, obj)
        box = layout.box()
        own = props.object_settings(obj)
        box.label(text=f"{obj.name}: final loss {own.final_loss:.3g} "
                       f"({0 if losses is None else len(losses)} steps, {own.train_seconds:.1f} s)")
        if damaged:
            box.label(text=damaged, icon='ERROR')
        elif losses is not None and len(losses):
            box.label(text=sparkline(losses))
            box.label(text=f"loss {losses[0]:.2g} → {losses[-1]:.2g} (log scale)")
        draw_fit(box, obj)
        layout.operator("symbreak.predict", icon='FORWARD')
        draw_progress(layout, "predicting")


class SYMBREAK_PT_display(SymBreakSubPanel, bpy.types.Panel):
    bl_label = "Signals and Animation"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        if layout is None or context.scene is None:
            return
        d = props.scene_settings(context.scene).display
        row = layout.row(align=True)
        row.prop(d, "signal_scale", text="Scale")
        row.prop(d, "signal_level", text="Level")
        layout.operator("symbreak.show_signals", icon='SPHERE')
        col = layout.column(align=True)
        row = col.row(align=True)
        row.prop(d, "frame_start")
        row.prop(d, "frame_end")
        col.prop(d, "easing")
        col.prop(d, "signals_motion")
        row = col.row(align=True)
        row.prop(d, "show_target")
        row.prop(d, "show_ambiguous")
        col.prop(d, "point_radius")
        layout.operator("symbreak.animate", icon='ANIM')


class SYMBREAK_PT_render(SymBreakSubPanel, bpy.types.Panel):
    bl_label = "Render"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context: bpy.types.Context) -> None:
        if self.layout is None or context.scene is None:
            return
        r = props.scene_settings(context.scene).render
        col = self.layout.column(align=True)
        col.prop(r, "resolution")
        col.prop(r, "fps")
        col.prop(r, "duration")
        col.prop(r, "engine")
        if r.engine != 'WORKBENCH':
            col.prop(r, "samples")
        col.prop(r, "filepath", text="")
        row = self.layout.row(align=True)
        film = row.operator("symbreak.render_video", text="Render Film", icon='RENDER_ANIMATION')
        as_it_is = row.operator("symbreak.render_video", text="Render Scene", icon='SCENE_DATA')
        if film is not None and as_it_is is not None:  # Render Video's option, one button each
            film.film, as_it_is.film = True, False


CLASSES = [
    SYMBREAK_PT_main,
    SYMBREAK_PT_symmetry,
    SYMBREAK_PT_network,
    SYMBREAK_PT_training,
    SYMBREAK_PT_display,
    SYMBREAK_PT_render,
]
