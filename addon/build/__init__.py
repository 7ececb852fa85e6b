# SPDX-License-Identifier: GPL-3.0-or-later
"""Blender data from engine results, one job per module: ``materials``, ``objects``, ``points``,
``surfaces`` (signals and the order parameter), ``animation``, ``text``, ``shapes`` (flat marks:
arrows, rings, dashed outlines), ``loss`` (the loss curve), ``camera`` (camera, light, world),
``video`` (render settings, held frames, MP4), ``seed`` (the seed demo) and ``film`` (the film in
acts, its script in ``acts.toml``). Nothing here calls the engine's network: results come in as
data. Everything made here renders without the add-on."""
