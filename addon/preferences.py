# SPDX-License-Identifier: GPL-3.0-or-later
"""The add-on's preferences: what the engine runs on, or, when it cannot load, which zip to install.

The engine loads once, in the background job started when the add-on is enabled (importing torch
takes seconds, which Blender's UI must not wait for). :func:`draw_unavailable` lets a panel show
the same sentence instead of operators that cannot work.
"""

from __future__ import annotations

import textwrap
import tomllib
from pathlib import Path
from typing import Optional, Union

import bpy

from ..engine import api  # imports no torch; api.load() does
from . import jobs

# The extension's root package (``bl_ext.<repo>.symbreak``), which Blender names add-ons by.
EXTENSION = (__package__ or "").rpartition(".")[0]
MANIFEST = Path(__file__).resolve().parent.parent / "blender_manifest.toml"

def _unavailable(error: BaseException) -> str:
    """Why the engine cannot load, and which zip to install instead, in one sentence."""
    text = " ".join(str(error).split()).rstrip(".") or type(error).__name__
    if not isinstance(error, api.EngineUnavailable):
        text = f"The SymBreak engine could not be loaded: {text}"
    return (f"{text}; install {platform_zip()}, which carries the engine's libraries "
            "(Preferences, Get Extensions, Install from Disk).")


def platform_zip() -> str:
    """The zip that carries the engine's wheels for this machine: ``symbreak-<version>-<platform>.zip``."""
    manifest = tomllib.loads(MANIFEST.read_text(encoding="utf-8"))
    try:  # Blender's own name for this platform, as the extension build uses it
        from bl_pkg.bl_extension_utils import platform_from_this_system
    except ImportError:
        return f"the {manifest['id']}-{manifest['version']} zip for this platform"
    return f"{manifest['id']}-{manifest['version']}-{platform_from_this_system()}.zip"


def _redraw_when_loaded() -> Optional[float]:
    """A timer: once the engine has answered, redraw the preferences and the 3D views."""
    if not jobs.preload().done:
        return 0.25
    wm = bpy.context.window_manager
    for window in wm.windows if wm is not None else []:
        for area in window.screen.areas if window.screen is not None else []:
            if area.type in {'PREFERENCES', 'VIEW_3D'}:
                area.tag_redraw()
    return None


def engine_status(wait: bool = False) -> Union[api.EngineInfo, str, None]:
    """What the engine runs on (``EngineInfo``), the sentence saying which zip to install instead,
    or None while it is still loading (:func:`jobs.preload`, started when the add-on is enabled);
    ``wait`` waits for it."""
    loading = jobs.preload()
    if wait:
        loading.wait()
    if not loading.done:
        if not bpy.app.background and not bpy.app.timers.is_registered(_redraw_when_loaded):
            bpy.app.timers.register(_redraw_when_loaded, first_interval=0.25)
        return None
    return _unavailable(loading.error) if loading.error is not None else loading.result


def _draw_sentence(layout: bpy.types.UILayout, sentence: str, width: int) -> None:
    column = layout.column(align=True)
    for i, line in enumerate(textwrap.wrap(sentence, width)):
        column.label(text=line, icon='ERROR' if i == 0 else 'BLANK1')


def draw_unavailable(layout: bpy.types.UILayout) -> bool:
    """Draw why the engine cannot load and which zip to install, and return True; draw nothing and
    return False while it loads or once it has loaded."""
    status = engine_status()
    if not isinstance(status, str):
        return False
    _draw_sentence(layout, status, width=36)
    return True


class SymBreakPreferences(bpy.types.AddonPreferences):
    bl_idname = EXTENSION

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        status = engine_status()
        if status is None:
            layout.label(text="Loading the engine…", icon='SORTTIME')
        elif isinstance(status, str):
            _draw_sentence(layout, status, width=90)
        else:
            layout.label(text=f"Engine: torch {status.torch}, e3nn {status.e3nn}", icon='CHECKMARK')
            layout.label(text=f"Runs on {status.threads} CPU threads; devices found: "
                              f"{', '.join(d.upper() for d in status.devices)}", icon='BLANK1')


CLASSES = [SymBreakPreferences]
