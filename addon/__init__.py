# SPDX-License-Identifier: GPL-3.0-or-later
"""SymBreak's Blender side: settings, panel, operators and the builders they call.

It converts between Blender data and numpy and leaves every computation to ``..engine``.
"""
