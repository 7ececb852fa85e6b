# SPDX-License-Identifier: GPL-3.0-or-later
"""Flat marks in a plane z = const: ribbons along polylines (solid or dashed), arrows, rings and
discs, as triangle meshes ``(vertices (V, 3), faces (F, 3))`` that render in any engine."""

from __future__ import annotations

from typing import Optional

import bpy
import numpy as np

from .. import mesh

Shape = tuple[np.ndarray, np.ndarray]


def _quads(a: np.ndarray, b: np.ndarray, width: float) -> Shape:
    """One rectangle of ``width`` per segment ``a[i] → b[i]`` ``(K, 3)``, overhanging each end
    by half the width so that joints close."""
    along = b - a
    length = np.linalg.norm(along[:, :2], axis=1, keepdims=True)
    u = np.divide(along, length, out=np.zeros_like(along), where=length > 0)
    n = np.stack([-u[:, 1], u[:, 0], np.zeros(len(u))], axis=1) * (width / 2)
    a, b = a - u * (width / 2), b + u * (width / 2)
    vertices = np.stack([a - n, b - n, b + n, a + n], axis=1).reshape(-1, 3)
    base = 4 * np.arange(len(a))[:, None]
    faces = np.concatenate([base + [0, 1, 2], base + [0, 2, 3]])
    return vertices, faces


def join(*shapes: Shape) -> Shape:
    vertices, faces, offset = [], [], 0
    for v, f in shapes:
        vertices.append(v)
        faces.append(np.asarray(f) + offset)
        offset += len(v)
    return np.concatenate(vertices), np.concatenate(faces).astype(np.int32)


def ribbon(points: np.ndarray, width: float, *, closed: bool = False) -> Shape:
    """A solid line of ``width`` through ``(K, 3)`` points."""
    points = np.asarray(points, dtype=np.float64)
    ends = np.roll(points, -1, axis=0) if closed else points[1:]
    return _quads(points[:len(ends)], ends, width)


def dashed(points: np.ndarray, width: float, dash: float, *, closed: bool = True) -> Shape:
    """A dashed line through ``(K, 3)`` points: dashes of length ``dash`` with gaps as long,
    measured along the line."""
    points = np.asarray(points, dtype=np.float64)
    path = np.concatenate([points, points[:1]]) if closed else points
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    period = 2 * dash
    count = max(1, int(round(arc[-1] / period)))
    period = arc[-1] / count
    starts = np.arange(count) * period
    at = [np.stack([np.interp(s, arc, path[:, k]) for k in range(3)], axis=-1) for s in (starts, starts + period / 2)]
    return _quads(at[0], at[1], width)


def arrow(start: np.ndarray, end: np.ndarray, width: float, head: float) -> Shape:
    """Arrows ``start[i] → end[i]`` ``(K, 3)``: a shaft of ``width`` and a head ``head`` long that
    ends exactly at ``end``. Arrows shorter than their head are left out."""
    start, end = np.atleast_2d(start).astype(np.float64), np.atleast_2d(end).astype(np.float64)
    along = end - start
    length = np.linalg.norm(along, axis=1)
    keep = length > head
    start, end, along, length = start[keep], end[keep], along[keep], length[keep]
    u = along / length[:, None]
    n = np.stack([-u[:, 1], u[:, 0], np.zeros(len(u))], axis=1)
    neck = end - u * head
    shaft_v, shaft_f = _quads(start + u * (width / 2), neck, width)
    tips = np.stack([neck - n * head * 0.45, end, neck + n * head * 0.45], axis=1).reshape(-1, 3)
    tip_f = 3 * np.arange(len(end))[:, None] + [0, 1, 2]
    return join((shaft_v, shaft_f), (tips, tip_f))


def ring(center: np.ndarray, radius: float, width: float, segments: int = 64) -> Shape:
    """An annulus of mean ``radius`` and ``width`` around ``center`` ``(3,)``."""
    t = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    circle = np.stack([np.cos(t), np.sin(t), np.zeros_like(t)], axis=1)
    inner, outer = center + (radius - width / 2) * circle, center + (radius + width / 2) * circle
    i = np.arange(segments)
    j = (i + 1) % segments
    faces = np.concatenate([np.stack([i, j, segments + j], 1), np.stack([i, segments + j, segments + i], 1)])
    return np.concatenate([inner, outer]), faces


def square(center: np.ndarray, side: float) -> Shape:
    """An axis-aligned square of ``side`` around ``center`` ``(3,)``."""
    corners = np.asarray(center, dtype=np.float64) + 0.5 * side * np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0],
                                                                             [-1, 1, 0]])
    return corners, np.array([[0, 1, 2], [0, 2, 3]])


def disc(center: np.ndarray, radius: float, segments: int = 32) -> Shape:
    t = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    rim = center + radius * np.stack([np.cos(t), np.sin(t), np.zeros_like(t)], axis=1)
    i = np.arange(segments)
    faces = np.stack([np.full(segments, segments), i, (i + 1) % segments], axis=1)
    return np.concatenate([rim, np.asarray(center, dtype=np.float64)[None]]), faces


def flat_object(name: str, shape: Shape, mat: bpy.types.Material,
                collection: Optional[bpy.types.Collection]) -> bpy.types.Object:
    """A mesh object of a shape in one material, linked to ``collection`` (or nowhere, when None)."""
    vertices, faces = shape
    data = mesh.new_mesh(name, vertices, faces=faces)
    data.materials.append(mat)
    obj = bpy.data.objects.new(name, data)
    if collection is not None:
        collection.objects.link(obj)
    return obj
