#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render the seed demo's film headless (bpy module): Curie's principle in acts.

    .venv/bin/python scripts/render_demo.py --out out/symmetry_breaking.mp4

Registers the add-on from this repository, adds the seed demo, trains the three tasks live
through the add-on's operators, builds the film of ``addon/build/acts.toml`` and renders it:
each frame that changes once, as a PNG, then the MP4 (H.264) from those stills, plus a PNG
contact sheet with one frame per act. ``--blend`` also saves the finished .blend, which renders
the same film in any Blender without the add-on. Prints the time split and the acts as JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRESETS = {"720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}


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
    if text.lower() in PRESETS:
        return PRESETS[text.lower()]
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 720p, 1080p, 4k or WIDTHxHEIGHT, got {text!r}") from None
    if w < 16 or h < 16 or w % 2 or h % 2:
        raise argparse.ArgumentTypeError(f"width and height must be even and at least 16, got {text!r}")
    return w, h


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out/symmetry_breaking.mp4", help="MP4 to write")
    parser.add_argument("--resolution", type=resolution, default=(1280, 720), help="720p, 1080p, 4k or WxH")
    parser.add_argument("--fps", type=int, default=24, help="frames per second (the acts keep their seconds)")
    parser.add_argument("--engine", default="WORKBENCH", choices=["WORKBENCH", "EEVEE", "CYCLES"])
    parser.add_argument("--samples", type=int, default=16, help="samples for EEVEE and Cycles")
    parser.add_argument("--iterations", type=int, default=200, help="training steps per task")
    parser.add_argument("--blend", type=Path, help="also save the finished .blend here")
    parser.add_argument("--no-video", action="store_true", help="build (and save with --blend) without rendering")
    parser.add_argument("--no-contact-sheet", action="store_true", help="skip the PNG with one frame per act")
    args = parser.parse_args(argv)
    for name in ("fps", "samples", "iterations"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")

    t0 = time.perf_counter()
    import bpy

    addon = load_addon()
    addon.register()
    from symbreak.addon.operators import render
    from symbreak.addon.build import camera, film, keys, video

    bpy.ops.wm.read_homefile(app_template="")
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    scene = bpy.context.scene
    settings = scene.symbreak
    settings.training.iterations = args.iterations
    r = settings.render
    r.engine, r.fps, r.duration, r.resolution, r.samples = args.engine, "24", 0.0, 'SCENE', args.samples
    scene.render.resolution_x, scene.render.resolution_y = args.resolution
    timings = {"setup": time.perf_counter() - t0, "training": 0.0, "building": 0.0}

    def run(kind: str, op, **kwargs) -> None:
        start = time.perf_counter()
        if op(**kwargs) != {'FINISHED'}:
            raise SystemExit(f"{op.idname_py()} did not finish")
        timings[kind] += time.perf_counter() - start

    run("building", bpy.ops.symbreak.add_seed_demo)
    tasks = sorted((o for o in scene.objects if o.symbreak.role == 'SOURCE' and o.type == 'MESH'), key=lambda o: o.name)
    summary = []
    for obj in tasks:
        for other in scene.objects:
            other.select_set(False)
        obj.select_set(True)
        bpy.context.view_layer.objects.active = obj
        run("training", bpy.ops.symbreak.train)
        summary.append(f"{obj.name}: loss {obj.symbreak.final_loss:.3g} in {obj.symbreak.train_seconds:.2f} s")

    start = time.perf_counter()
    out = Path(args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    video.configure(scene, r, str(out))
    scene.render.fps = args.fps
    camera.lights_and_world(scene)
    level = settings.display.signal_level
    made = film.build(scene, film.script("seed"), [render.film_task(o, level=level) for o in tasks], fps=args.fps)
    changed = keys.changes(scene.frame_start, scene.frame_end)
    timings["building"] += time.perf_counter() - start
    if args.blend is not None:
        args.blend.parent.mkdir(parents=True, exist_ok=True)
        bpy.context.preferences.filepaths.save_version = 0  # no .blend1 next to it
        bpy.ops.wm.save_as_mainfile(filepath=str(args.blend.resolve()), copy=True)

    acts = [{"act": a.name, "first": a.first, "last": a.last} for a in made.acts]
    if args.no_video:
        print(json.dumps({"seconds": {k: round(v, 2) for k, v in timings.items()}, "acts": acts}))
        return 0
    folder = Path(tempfile.mkdtemp(prefix="symbreak-frames-"))
    try:
        start = time.perf_counter()
        stills = video.render_stills(scene, changed, str(folder), glimpse=round(video.GLIMPSE * args.fps))
        timings["rendering"] = time.perf_counter() - start
        start = time.perf_counter()
        video.assemble(scene, stills, str(out))
        timings["encoding"] = time.perf_counter() - start
        if not args.no_contact_sheet:
            sheet = out.with_name(out.stem + "_contact.png")
            video.tile([video.still_at(stills, a.last) for a in made.acts], str(sheet))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if not out.exists():
        print(f"error: rendering {out} failed", file=sys.stderr)
        return 1
    timings["total"] = time.perf_counter() - t0
    for line in summary:
        print(line)
    print(f"wrote {out}" + ("" if args.no_contact_sheet else f" and {sheet}"))
    print(json.dumps({
        "seconds": {k: round(v, 2) for k, v in timings.items()},
        "frames": scene.frame_end - scene.frame_start + 1, "rendered": len(stills),
        "resolution": list(args.resolution), "fps": args.fps,
        "acts": acts}))
    addon.unregister()
    return 0


if __name__ == "__main__":
    sys.exit(main())
