#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render the seed demo headless through the add-on's own operators (bpy module).

    .venv/bin/python scripts/render_demo.py --out out/symmetry_breaking.mp4

Registers the add-on from this repository, adds the seed demo, trains the three tasks live,
shows their signals (and Task 3's order parameter), bakes the animation and renders an MP4 (H.264) plus a PNG contact sheet of
key frames next to it. Prints the wall time split into training, building and rendering.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_addon(name: str = "symbreak"):
    """Import the repository root as the extension package (relative imports need a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "__init__.py",
                                                  submodule_search_locations=[str(ROOT)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def resolution(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    if w < 16 or h < 16 or w % 2 or h % 2:
        raise argparse.ArgumentTypeError(f"width and height must be even and at least 16, got {text!r}")
    return w, h


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out/symmetry_breaking.mp4", help="MP4 to write")
    parser.add_argument("--resolution", type=resolution, default=(1280, 720), help="WxH, e.g. 1280x720")
    parser.add_argument("--frames", type=int, default=96, help="video length in frames")
    parser.add_argument("--fps", type=int, default=24, choices=[24, 25, 30, 60])
    parser.add_argument("--engine", default="WORKBENCH", choices=["WORKBENCH", "EEVEE", "CYCLES"])
    parser.add_argument("--iterations", type=int, default=200, help="training steps per task")
    parser.add_argument("--no-contact-sheet", action="store_true", help="skip the PNG of key frames")
    args = parser.parse_args(argv)
    if args.frames < 2:
        parser.error(f"--frames must be at least 2, got {args.frames}")
    if args.iterations < 1:
        parser.error(f"--iterations must be at least 1, got {args.iterations}")

    t0 = time.perf_counter()
    import bpy

    addon = load_addon()
    addon.register()
    bpy.ops.wm.read_homefile(app_template="")
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    scene = bpy.context.scene
    settings = scene.symbreak
    settings.training.iterations = args.iterations
    scene.frame_start, scene.frame_end = 1, args.frames
    settings.display.frame_start = max(1, round(0.15 * args.frames))
    settings.display.frame_end = max(settings.display.frame_start + 1, round(0.75 * args.frames))
    r = settings.render
    r.engine, r.fps, r.duration, r.resolution = args.engine, str(args.fps), 0.0, 'SCENE'
    scene.render.resolution_x, scene.render.resolution_y = args.resolution
    t_setup = time.perf_counter()

    timings = {"training": 0.0, "building": 0.0}

    def run(kind: str, op, **kwargs) -> None:
        start = time.perf_counter()
        if op(**kwargs) != {'FINISHED'}:
            raise SystemExit(f"{op.idname_py()} did not finish")
        timings[kind] += time.perf_counter() - start

    run("building", bpy.ops.symbreak.add_seed_demo)
    tasks = [o for o in scene.objects if o.symbreak.role == 'SOURCE' and o.type == 'MESH']
    summary = []
    for obj in sorted(tasks, key=lambda o: o.name):
        for other in scene.objects:
            other.select_set(False)
        obj.select_set(True)
        bpy.context.view_layer.objects.active = obj
        run("training", bpy.ops.symbreak.train)
        run("building", bpy.ops.symbreak.show_signals)
        run("building", bpy.ops.symbreak.animate)
        if obj.symbreak.breaking != 'NONE':
            run("building", bpy.ops.symbreak.show_order_parameter)
        summary.append(f"{obj.name}: loss {obj.symbreak.final_loss:.3g} in {obj.symbreak.train_seconds:.2f} s")

    out = Path(args.out).resolve()
    start = time.perf_counter()
    result = bpy.ops.symbreak.render_video(filepath=str(out), contact_sheet=not args.no_contact_sheet)
    timings["rendering"] = time.perf_counter() - start
    if result != {'FINISHED'} or not out.exists():
        print(f"error: rendering {out} failed", file=sys.stderr)
        return 1
    timings["setup"] = t_setup - t0
    timings["total"] = time.perf_counter() - t0
    for line in summary:
        print(line)
    print(f"wrote {out}")
    if not args.no_contact_sheet:
        print(f"wrote {out.with_name(out.stem + '_contact.png')}")
    print(json.dumps({k: round(v, 2) for k, v in timings.items()}))
    addon.unregister()
    return 0


if __name__ == "__main__":
    sys.exit(main())
