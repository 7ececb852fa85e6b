# SPDX-License-Identifier: GPL-3.0-or-later
"""The loss curve on a log scale, drawn as geometry: axes, labels and a bevelled curve whose end
(``bevel_factor_end``) is keyframed so that the curve grows while training is shown."""

from __future__ import annotations

import math
from dataclasses import dataclass

import bpy
import numpy as np

from .keys import key_visible
from .shapes import flat_object, join, ribbon
from .text import sized

SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(value: float) -> str:
    """``7.07e-04`` → "7×10⁻⁴", ``1.0`` → "1", ``1e-12`` → "10⁻¹²"."""
    if value <= 0 or not math.isfinite(value):
        return f"{value:g}"
    exponent = math.floor(math.log10(value))
    mantissa = round(value / 10 ** exponent)
    if mantissa == 10:
        mantissa, exponent = 1, exponent + 1
    if exponent == 0:
        return f"{mantissa}"
    power = f"10{str(exponent).translate(SUPERSCRIPT)}"
    return power if mantissa == 1 else f"{mantissa}×{power}"


@dataclass(frozen=True)
class Plot:
    """Where a loss plot goes: its axes' lower-left corner, size and log10 range, in world units."""

    x: float
    y: float
    width: float
    height: float
    low: float   # log10 of the lowest loss shown
    high: float  # log10 of the highest


def curve_points(plot: Plot, losses: np.ndarray) -> np.ndarray:
    """``(T, 3)`` points of the losses, :math:`y = y_0 + h (\\log_{10} L - a) / (b - a)`, clipped to the plot."""
    t = np.linspace(0.0, 1.0, len(losses))
    level = np.log10(np.clip(losses, 10.0 ** plot.low, 10.0 ** plot.high))
    return np.stack([plot.x + plot.width * t, plot.y + plot.height * (level - plot.low) / (plot.high - plot.low),
                     np.zeros_like(t)], axis=1)


def loss_plot(name: str, plot: Plot, losses: np.ndarray, collection: bpy.types.Collection, *,
              cap: float, grow: tuple[int, int], shown: tuple[int, int], owner: str,
              mats: dict[str, bpy.types.Material]) -> list[bpy.types.Object]:
    """Axes, tick labels, a title and the curve of ``losses`` ``(T,)``, growing over the frames
    ``grow`` and shown over ``shown``; the final loss appears beside the curve's end once it is
    drawn. Text capitals are ``cap`` high; ``mats`` holds the materials of 'axis', 'loss' and
    'text'. Returns the objects made."""
    axis_mat = mats["axis"]
    line = 0.12 * cap
    corner = np.array([plot.x, plot.y, 0.0])
    axes = flat_object(f"{name} Axes", join(
        ribbon(np.array([corner + (0, plot.height, 0), corner, corner + (plot.width, 0, 0)]), line)), axis_mat,
        collection)
    made = [axes]
    for level in (plot.high, plot.low):
        y = plot.y + plot.height * (level - plot.low) / (plot.high - plot.low)
        made.append(sized(f"{name} Tick {level:g}", power_of_ten(10.0 ** level), (plot.x - 0.4 * cap, y, 0.0),
                          cap, collection, align='RIGHT', vertical='CENTER', mat=mats["text"]))
    made.append(sized(f"{name} Title", f"{owner} loss", (plot.x, plot.y + plot.height + 0.5 * cap, 0.0), cap,
                      collection, align='LEFT', vertical='BOTTOM', mat=mats["text"]))

    data = bpy.data.curves.new(f"{name} Curve", 'CURVE')
    data.dimensions = '3D'
    data.bevel_depth = 0.9 * line
    data.bevel_factor_mapping_end = 'SPLINE'
    points = curve_points(plot, np.asarray(losses, dtype=np.float64))
    spline = data.splines.new('POLY')
    spline.points.add(len(points) - 1)
    spline.points.foreach_set("co", np.hstack([points, np.ones((len(points), 1))]).ravel())
    data.materials.append(mats["loss"])
    curve = bpy.data.objects.new(f"{name} Curve", data)
    collection.objects.link(curve)
    data.bevel_factor_end = 0.0
    data.keyframe_insert("bevel_factor_end", frame=grow[0])
    data.bevel_factor_end = 1.0
    data.keyframe_insert("bevel_factor_end", frame=grow[1])
    made.append(curve)
    final = sized(f"{name} Final", power_of_ten(float(losses[-1])), points[-1] + (0.4 * cap, 0.0, 0.0), cap,
                  collection, align='LEFT', vertical='CENTER', mat=mats["text"])
    key_visible(final, [(grow[1], shown[1])])
    for obj in made:
        key_visible(obj, [shown])
    return made + [final]
