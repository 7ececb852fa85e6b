# SPDX-License-Identifier: GPL-3.0-or-later
"""The operators, one module per area; each ends with its ``CLASSES``.

An operator gathers plain data from the scene, hands the engine work to a background job
(:mod:`..jobs`) or a builder, and reports: bad input is reported with ``self.report`` and
returns ``{'CANCELLED'}`` before anything changes.
"""

from . import demo, display, prediction, render, symmetry, training

CLASSES = [
    *demo.CLASSES,
    *symmetry.CLASSES,
    *training.CLASSES,
    *prediction.CLASSES,
    *display.CLASSES,
    *render.CLASSES,
]
