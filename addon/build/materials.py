# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared materials, one per kind, and per-owner copies whose brightness can be keyframed.

Colours are linear RGB on a dark background. Their brightness contrast against it is the ratio of
relative luminances, :math:`(L_1 + 0.05) / (L_2 + 0.05)` with
:math:`L = 0.2126 R + 0.7152 G + 0.0722 B`; every kind clears 3 : 1."""

from __future__ import annotations

from typing import Iterable, Optional

import bpy

from .keys import clear_keys, hold_keys

COLORS = {
    "points": (0.92, 0.92, 0.95, 1.0),
    "target": (0.25, 0.85, 0.45, 1.0),
    "ghost": (1.0, 0.6, 0.08, 1.0),
    "text": (1.0, 1.0, 1.0, 1.0),
    "arrow": (0.25, 0.85, 0.45, 1.0),
    "outline": (1.0, 0.6, 0.08, 1.0),
    "highlight": (1.0, 1.0, 1.0, 1.0),
    "axis": (0.55, 0.57, 0.62, 1.0),
    "loss": (1.0, 0.85, 0.3, 1.0),
    "signal": (1.0, 0.25, 0.2, 1.0),          # f > 0
    "signal negative": (0.3, 0.5, 1.0, 1.0),  # f < 0
}
BACKGROUND = (0.012, 0.013, 0.018)
BRIGHTNESS = "symbreak_color"  # a copy's full colour, which dimming scales


def luminance(rgb: Iterable[float]) -> float:
    """Relative luminance of a linear RGB colour, :math:`0.2126 R + 0.7152 G + 0.0722 B`."""
    r, g, b = list(rgb)[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: Iterable[float], b: Iterable[float] = BACKGROUND) -> float:
    """Brightness contrast :math:`(L_1 + 0.05) / (L_2 + 0.05)`, the lighter over the darker."""
    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def principled(mat: bpy.types.Material) -> Optional[bpy.types.Node]:
    if mat.node_tree is None:
        mat.use_nodes = True  # Blender < 5.0 makes materials without nodes
    tree = mat.node_tree
    return next((n for n in tree.nodes if n.type == 'BSDF_PRINCIPLED'), None) if tree else None


def _set_color(mat: bpy.types.Material, color: tuple[float, ...]) -> None:
    """The colour Workbench draws (``diffuse_color``) and the one EEVEE and Cycles shade."""
    mat.diffuse_color = color  # type: ignore[assignment]  # stubs: any sequence works
    bsdf = principled(mat)
    if bsdf is not None:
        bsdf.inputs["Base Color"].default_value = color  # type: ignore[attr-defined]  # stubs: base socket
        bsdf.inputs["Roughness"].default_value = 0.4  # type: ignore[attr-defined]  # stubs: base socket
        if mat.get("symbreak_emit"):
            bsdf.inputs["Emission Color"].default_value = color  # type: ignore[attr-defined]  # stubs: base socket
            bsdf.inputs["Emission Strength"].default_value = 1.0  # type: ignore[attr-defined]  # stubs: base socket


def material(kind: str) -> bpy.types.Material:
    """The shared material of a kind in ``COLORS`` ('points', 'target', 'ghost', 'text', ...)."""
    name = f"SymBreak {kind.title()}"
    mat = bpy.data.materials.get(name)
    if mat is None:
        mat = bpy.data.materials.new(name)
        mat["symbreak_emit"] = kind in {"text", "axis", "loss"}  # flat marks glow in EEVEE and Cycles
        _set_color(mat, COLORS[kind])
        mat[BRIGHTNESS] = COLORS[kind]
    return mat


def own_copy(mat: bpy.types.Material, owner: str) -> bpy.types.Material:
    """A copy of ``mat`` for ``owner`` (e.g. one task), reused if it exists, so that the owner
    can be dimmed alone."""
    name = f"{mat.name} · {owner}"
    copy = bpy.data.materials.get(name)
    if copy is None:
        copy = mat.copy()
        assert copy is not None
        copy.name = name
    return copy


def key_brightness(mat: bpy.types.Material, keys: Iterable[tuple[int, float]]) -> None:
    """Keyframe the colour to its full colour times each factor, held until the next key (cuts)."""
    full = tuple(mat.get(BRIGHTNESS, mat.diffuse_color))
    clear_keys(mat, "diffuse_color")
    if mat.node_tree is not None:
        clear_keys(mat.node_tree, 'nodes["Principled BSDF"].inputs[0].default_value')
    for frame, factor in keys:
        _set_color(mat, (*(factor * c for c in full[:3]), 1.0))
        mat.keyframe_insert("diffuse_color", frame=frame)
        bsdf = principled(mat)
        if bsdf is not None:
            bsdf.inputs["Base Color"].keyframe_insert("default_value", frame=frame)
    hold_keys(mat)
    if mat.node_tree is not None:
        hold_keys(mat.node_tree)
