# SPDX-License-Identifier: GPL-3.0-or-later
"""Signal surfaces :math:`\\vec x = \\vec c + s\\,|f(\\hat u)|\\,\\hat u`, one per point, and the
order parameter's surface. Each face takes the material of its sign (red f > 0, blue f < 0);
the colour attribute ``signal_color`` carries the same with brightness growing with |f|."""

from __future__ import annotations

from typing import Optional

import bpy
import numpy as np

from ...engine import api
from .. import mesh
from ..storage import StoredPrediction
from .materials import COLORS, material
from .objects import attach, child, remove_object
from .text import text_object

SURFACE_VERTICES = "symbreak_surface_vertices"
ORDER_PARAMETER_SIZE = 0.3  # the surface's largest radius, relative to the points' rms radius


def signal_colors(values: np.ndarray) -> np.ndarray:
    """RGBA ``(..., 4)`` float32: red where f > 0, blue where f < 0, brighter with |f| (per surface)."""
    values = np.asarray(values, dtype=np.float32)
    magnitude = np.abs(values)
    peak = magnitude.max(axis=-1, keepdims=True)
    shade = 0.35 + 0.65 * magnitude / np.where(peak > 0, peak, 1.0)
    positive, negative = (np.array(COLORS[k][:3], dtype=np.float32) for k in ("signal", "signal negative"))
    out = np.empty(values.shape + (4,), dtype=np.float32)
    out[..., :3] = np.where((values >= 0)[..., None], positive, negative)
    out[..., :3] *= shade[..., None]
    out[..., 3] = 1.0
    return out


def surface_mesh(name: str, surf: api.Surfaces) -> bpy.types.Mesh:
    """One mesh holding every surface of an ``api.Surfaces`` (``vertices (S, V, 3)``,
    shared ``faces (F, 3)``, ``values (S, V)``): copies of one icosphere layout, each face in the
    material of the sign of its mean value, everything written with ``foreach_set``."""
    data = mesh.new_tiled_mesh(name, surf.vertices, surf.faces)
    values = np.asarray(surf.values).reshape(-1)
    mesh.set_point_colors(data, "signal_color", signal_colors(surf.values).reshape(-1, 4))
    mesh.set_point_floats(data, "signal", values)
    per = surf.vertices.shape[1]
    corners = np.asarray(surf.faces)[None] + per * np.arange(len(surf.vertices))[:, None, None]
    negative = values[corners.reshape(-1, corners.shape[-1])].mean(axis=1) < 0
    mesh.set_face_materials(data, negative)
    mesh.smooth_faces(data)
    data.materials.append(material('signal'))
    data.materials.append(material('signal negative'))
    return data


def signal_object(source: bpy.types.Object, surf: api.Surfaces) -> bpy.types.Object:
    """The source's signal surfaces (local coordinates), replacing the previous ones."""
    remove_object(child(source, 'SIGNALS'))
    name = f"{source.name} Signals"
    obj = bpy.data.objects.new(name, surface_mesh(name, surf))
    obj[SURFACE_VERTICES] = int(surf.vertices.shape[1])
    return attach(obj, source, 'SIGNALS')


def coefficients(p: StoredPrediction) -> np.ndarray:
    """The prediction's signals ``(N, D)``; a 'vector' output's displacements as their L ≤ 1 signals."""
    return api.encode(p.displacements, lmax=1) if p.signals.shape[1] == 3 else p.signals


def build_signals(source: bpy.types.Object, p: StoredPrediction, *, scale: float, level: int) -> bpy.types.Object:
    """One mesh holding a surface :math:`r = s|f(u)|` per vertex, coloured by sign (vectorised: the
    engine returns every surface at once)."""
    return signal_object(source, api.signal_surfaces(coefficients(p), p.start, scale=scale, level=level))


def order_parameter_object(source: bpy.types.Object, surf: api.Surfaces,
                           label: Optional[tuple[str, np.ndarray, float]] = None) -> bpy.types.Object:
    """A global order parameter's surface (the one surface of ``surf``) and, optionally, a
    ``(text, location, size)`` label left-aligned at the location; replaces the previous ones."""
    remove_object(child(source, 'ORDER_PARAMETER'))
    remove_object(child(source, 'LABEL'))
    name = f"{source.name} Order Parameter"
    obj = attach(bpy.data.objects.new(name, surface_mesh(name, surf)), source, 'ORDER_PARAMETER')
    if label is not None:
        body, location, size = label
        text = text_object(f"{name} Label", body, location, size, None, align='LEFT', vertical='CENTER')
        attach(text, source, 'LABEL')
    return obj


def order_parameter_surface(p: api.OrderParameter, points: np.ndarray, *, level: int,
                            size: float = ORDER_PARAMETER_SIZE) -> api.Surfaces:
    """Surfaces of a global order parameter at the centre of ``points`` ``(N, 3)``, its largest
    radius ``size`` times their rms radius."""
    centre = points.mean(axis=0)
    radius = size * float(np.sqrt(((points - centre) ** 2).sum(axis=1).mean()))
    signal = p.signal()[None]
    peak = np.abs(api.signal_surfaces(signal, centre[None], level=level).values).max()
    return api.signal_surfaces(signal, centre[None], scale=radius / peak, level=level)


def build_order_parameter(source: bpy.types.Object, p: api.OrderParameter, points: np.ndarray, *,
                          level: int) -> bpy.types.Object:
    """A global order parameter's surface :math:`r \\propto |f(u)|` at the centre of the local
    ``points`` ``(N, 3)``, its largest radius ``ORDER_PARAMETER_SIZE`` times their rms radius,
    with its description as a label to the right. Replaces the previous one."""
    centre = points.mean(axis=0)
    radius = ORDER_PARAMETER_SIZE * float(np.sqrt(((points - centre) ** 2).sum(axis=1).mean()))
    reach = float(np.linalg.norm(points - centre, axis=1).max())
    label = (f"order parameter\n{p.description}", centre + (1.3 * reach, 0.0, 0.0), 0.75 * radius)
    return order_parameter_object(source, order_parameter_surface(p, points, level=level), label)


