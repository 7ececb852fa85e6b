# SPDX-License-Identifier: GPL-3.0-or-later
"""Texts: flat text objects in the XY plane, sized by their cap height.

A text's cap height (the height of a capital H) is :math:`h = r s`, ``s`` its size and ``r``
the font's cap ratio, measured once on Blender's built-in font. Each film text has a kind
{'TITLE', 'CAPTION', 'LABEL'} stored in ``obj["symbreak_text"]``."""

from __future__ import annotations

import functools
from typing import Iterable, Optional

import bpy

from .. import props
from .materials import material

KIND = "symbreak_text"


def text_data(obj: bpy.types.Object) -> bpy.types.TextCurve:
    """``obj.data`` of a text object, which the stubs type as any object data or None."""
    return obj.data  # type: ignore[return-value]  # callers pass text objects


def update() -> None:
    """Bring the objects' evaluated dimensions up to date."""
    view_layer = bpy.context.view_layer
    if view_layer is None:
        raise RuntimeError("No view layer to measure texts in")
    view_layer.update()


@functools.cache
def cap_ratio() -> float:
    """Cap height of Blender's built-in font per unit of text size (about 0.68)."""
    curve: bpy.types.TextCurve = bpy.data.curves.new("SymBreak Cap", 'FONT')  # type: ignore[assignment]
    curve.body, curve.size = "H", 1.0
    obj = bpy.data.objects.new("SymBreak Cap", curve)
    scene = bpy.context.scene
    if scene is None:
        raise RuntimeError("No scene to measure the font in")
    scene.collection.objects.link(obj)
    update()
    ratio = float(obj.dimensions[1])
    bpy.data.objects.remove(obj)
    bpy.data.curves.remove(curve)
    return ratio


def text_object(name: str, body: str, location: Iterable[float], size: float,
                collection: Optional[bpy.types.Collection], *, align: str = 'CENTER',
                vertical: str = 'TOP', kind: str = 'LABEL',
                mat: Optional[bpy.types.Material] = None) -> bpy.types.Object:
    """A text of ``size`` at ``location``, aligned {'LEFT', 'CENTER', 'RIGHT'} and {'TOP',
    'CENTER', 'BOTTOM'}, linked to ``collection`` (or nowhere yet, when None)."""
    curve: bpy.types.TextCurve = bpy.data.curves.new(name, 'FONT')  # type: ignore[assignment]  # stubs: base Curve
    curve.body = body
    curve.align_x = align  # type: ignore[assignment]  # stubs: literal enum
    curve.align_y = vertical if vertical != 'BOTTOM' else 'BOTTOM_BASELINE'  # type: ignore[assignment]
    curve.size = size
    curve.materials.append(mat or material('text'))
    obj = bpy.data.objects.new(name, curve)
    obj.location = tuple(location)
    obj[KIND] = kind
    props.object_settings(obj).role = 'LABEL'
    if collection is not None:
        collection.objects.link(obj)
    return obj


def sized(name: str, body: str, location: Iterable[float], cap: float,
          collection: Optional[bpy.types.Collection], *, align: str = 'CENTER', vertical: str = 'TOP',
          kind: str = 'LABEL', mat: Optional[bpy.types.Material] = None) -> bpy.types.Object:
    """:func:`text_object` whose capitals are ``cap`` high."""
    return text_object(name, body, location, cap / cap_ratio(), collection, align=align, vertical=vertical,
                       kind=kind, mat=mat)


def width(obj: bpy.types.Object) -> float:
    """A text's width in its own units, once the view layer is up to date."""
    update()
    return float(obj.dimensions[0])
