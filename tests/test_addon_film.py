"""The film in acts, checked on its data: camera, text sizes, the acts' frames, equivariance
through the whole pipeline, the tie's ghosts, and a small render of the whole film."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

ROOT = Path(__file__).resolve().parent.parent
RESOLUTION = (1280, 720)  # the main job's
SMALLEST = {'TITLE': 0.06, 'CAPTION': 0.045, 'LABEL': 0.035}  # cap height / frame height


def seed_film(fps=24):
    """The seed demo trained through the operators and built into the film at 720p."""
    from symbreak.addon.operators import render
    from symbreak.addon.build import film

    scene = bpy.context.scene
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    scene.render.resolution_x, scene.render.resolution_y = RESOLUTION
    assert bpy.ops.symbreak.add_seed_demo() == {'FINISHED'}
    tasks = [bpy.data.objects[f"Task {i}"] for i in (1, 2, 3)]
    for obj in tasks:
        for other in scene.objects:
            other.select_set(False)
        obj.select_set(True)
        bpy.context.view_layer.objects.active = obj
        assert bpy.ops.symbreak.train() == {'FINISHED'}
    made = film.build(scene, film.script("seed"), [render.film_task(o) for o in tasks], fps=fps)
    return made, tasks


def to_pixels(scene, world):
    """Pixel coordinates ``(K, 2)`` of world points through the scene's camera."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    view = np.array([tuple(world_to_camera_view(scene, scene.camera, Vector(p)))[:2] for p in world])
    return view * np.array([scene.render.resolution_x, scene.render.resolution_y])


def evaluated_world_vertices(obj):
    depsgraph = bpy.context.evaluated_depsgraph_get()
    evaluated = obj.evaluated_get(depsgraph)
    data = evaluated.to_mesh()
    co = np.empty(len(data.vertices) * 3)
    data.vertices.foreach_get("co", co)
    m = np.array(evaluated.matrix_world)
    evaluated.to_mesh_clear()
    return co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]


def test_camera_is_orthographic_and_looks_straight_down(symbreak):
    seed_film()
    cam = bpy.context.scene.camera
    assert cam.data.type == 'ORTHO'
    down = np.array(cam.matrix_world)[:3, 2]  # the camera looks along its −z
    np.testing.assert_allclose(down, [0.0, 0.0, 1.0], atol=1e-9)


def test_every_text_is_large_enough_and_inside_the_frame(symbreak):
    from symbreak.addon.build import text

    made, _ = seed_film()
    scene = bpy.context.scene
    probe = bpy.data.objects.new("probe", bpy.data.curves.new("probe", 'FONT'))
    probe.data.body = "H"
    scene.collection.objects.link(probe)
    bpy.context.view_layer.update()
    cap_per_size = probe.dimensions[1]  # Blender's own font, measured here
    others = [o for o in scene.objects if o.type == 'FONT' and o not in made.texts and o is not probe]
    assert len(made.texts) > 30
    height = RESOLUTION[1]
    for obj in made.texts:
        for act in made.acts:
            scene.frame_set(act.last)
            if obj.hide_render:
                continue
            origin = np.array(obj.matrix_world.translation)
            cap = obj.data.size * cap_per_size * obj.matrix_world.to_scale()[1]
            pixels = to_pixels(scene, [origin, origin + (0.0, cap, 0.0)])
            assert pixels[1, 1] - pixels[0, 1] >= SMALLEST[obj[text.KIND]] * height, obj.name
            corners = np.array(obj.matrix_world) @ np.c_[np.array([tuple(c) for c in obj.bound_box]), np.ones(8)].T
            inside = to_pixels(scene, corners[:3].T)
            assert (inside >= 0).all() and (inside <= RESOLUTION).all(), obj.name
    assert others and all(o.hide_render for o in others)  # the demo's own labels are hidden


def test_acts_cover_the_film_without_gaps_and_fill_the_frame(symbreak):
    from symbreak.addon.build import camera

    made, _ = seed_film()
    scene = bpy.context.scene
    acts = made.acts
    assert acts[0].first == scene.frame_start and acts[-1].last == scene.frame_end
    assert all(a.last + 1 == b.first for a, b in zip(acts, acts[1:]))
    assert all(a.first <= a.last for a in acts)
    assert 24 * 25 <= scene.frame_end <= 24 * 40  # about 30 s at 24 fps
    for act in acts:
        scene.frame_set(act.last)
        corners = camera.bounds(scene, camera.content(scene), [act.last])
        pixels = to_pixels(scene, corners)
        fill = (np.clip(pixels, 0, RESOLUTION).ptp(axis=0)) / RESOLUTION
        assert fill[0] >= 0.8 and fill[1] >= 0.6, (act.name, fill)


def test_rotation_act_shows_the_network_output_on_the_rotated_input(symbreak):
    """Equivariance through the whole pipeline: the surfaces the film draws at the rotation act's
    last frame are those of the network's output on the rotated input."""
    from symbreak.addon import storage
    from symbreak.addon.build.animation import MOTION_KEY
    from symbreak.engine import api, signals

    made, tasks = seed_film()
    scene = bpy.context.scene
    act = next(a for a in made.acts if a.kind == "rotation")
    obj = tasks[act.subject]
    scene.frame_set(act.first)
    before = evaluated_world_vertices(next(c for c in obj.children if c.symbreak.role == 'SIGNALS'))
    scene.frame_set(act.last)
    drawn = evaluated_world_vertices(next(c for c in obj.children if c.symbreak.role == 'SIGNALS'))
    assert np.abs(drawn - before).max() > 0.1  # it did turn
    p = storage.prediction(obj)
    m = np.array(obj.matrix_world)
    rotated = p.start @ m[:3, :3].T + m[:3, 3]
    output = api.predict(storage.model_bytes(obj), rotated, dtype="float64")
    per = len(drawn) // len(rotated)
    for i, centre in enumerate(rotated):
        offsets = drawn[i * per:(i + 1) * per] - centre
        radius = np.linalg.norm(offsets, axis=1)
        keep = radius > 1e-3
        expected = np.abs(signals.evaluate(output.signals[i:i + 1], offsets[keep] / radius[keep, None]))[0]
        np.testing.assert_allclose(radius[keep], expected, atol=1e-5)
    key = obj.data.shape_keys.key_blocks[MOTION_KEY]
    assert key.value == pytest.approx(1.0)  # and the points have moved as the network says
    moved = np.array([tuple(v.co) for v in key.data]) @ m[:3, :3].T + m[:3, 3]
    np.testing.assert_allclose(moved, rotated + output.displacements, atol=1e-4)


def test_tie_ghosts_reach_both_tied_peaks(symbreak):
    from symbreak.addon import storage

    made, tasks = seed_film()
    scene = bpy.context.scene
    act = next(a for a in made.acts if a.kind == "tie")
    obj = tasks[act.subject]
    p = storage.prediction(obj)
    assert p.ambiguous.all() and all(len(k) == 2 for k in p.peaks)
    scene.frame_set(act.motion[1])
    ghosts = evaluated_world_vertices(next(c for c in obj.children if c.symbreak.role == 'GHOSTS'))
    m = np.array(obj.matrix_world)
    peaks = np.concatenate([s + k for s, k in zip(p.start, p.peaks)]) @ m[:3, :3].T + m[:3, 3]
    spheres = ghosts.reshape(len(peaks), -1, 3).mean(axis=1)  # each ghost is an icosphere around its point
    distance = np.linalg.norm(spheres[:, None] - peaks[None], axis=-1)
    assert distance.min(axis=0).max() < 1e-5 and distance.min(axis=1).max() < 1e-5


def test_colours_are_bright_on_the_dark_background(symbreak):
    from symbreak.addon.build import materials

    for kind in ("points", "target", "ghost", "text", "signal", "signal negative", "loss"):
        assert materials.contrast(materials.COLORS[kind]) >= 3.0, kind
    assert materials.COLORS["text"][:3] == (1.0, 1.0, 1.0)


def test_render_video_makes_a_short_film_of_the_active_object(symbreak, tmp_path):
    from symbreak.addon.build import film

    assert bpy.ops.symbreak.add_seed_demo() == {'FINISHED'}
    obj = bpy.data.objects["Task 2"]
    for other in bpy.context.scene.objects:
        other.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.symbreak.train() == {'FINISHED'}
    scene = bpy.context.scene
    r = scene.symbreak.render
    r.resolution, r.fps = 'SCENE', '24'
    scene.render.resolution_x, scene.render.resolution_y = 160, 90
    out = tmp_path / "own.mp4"
    assert bpy.ops.symbreak.render_video(filepath=str(out), contact_sheet=True) == {'FINISHED'}
    expected = sum(round(a["seconds"] * 24) for a in film.script("own"))
    assert (scene.frame_start, scene.frame_end) == (1, expected)  # the film's frames, not 1–250
    assert bpy.data.movieclips.load(str(out)).frame_duration == expected
    titles = [o.data.body for o in bpy.data.collections[film.FILM_COLLECTION].objects if o.type == 'FONT']
    assert "Task 2" in titles and any(t.startswith("Not learnable") for t in titles)
    assert any(o.name.startswith("Task 2 Loss Curve") for o in bpy.data.objects)



def test_render_panel_offers_the_film_and_the_scene_as_it_is(symbreak):
    from types import SimpleNamespace

    from symbreak.addon import panel

    buttons = []

    class Layout:
        def operator(self, idname, **_):
            buttons.append(SimpleNamespace(idname=idname))
            return buttons[-1]

        def __getattr__(self, name):  # row, column, prop, ...
            return lambda *args, **kwargs: self

    panel.SYMBREAK_PT_render.draw(SimpleNamespace(layout=Layout()), bpy.context)
    assert sorted((b.idname, b.film) for b in buttons) == [("symbreak.render_video", False),
                                                          ("symbreak.render_video", True)]


def test_4k_preset_renders_at_3840_by_2160(symbreak, tmp_path):
    from symbreak.addon.build import video

    scene = bpy.context.scene
    settings = scene.symbreak.render
    settings.resolution = '3840x2160'
    video.configure(scene, settings, str(tmp_path / "film.mp4"))
    assert (scene.render.resolution_x, scene.render.resolution_y) == (3840, 2160)

def test_small_render_has_every_frame_and_its_blend_renders_without_the_addon(tmp_path):
    out, blend = tmp_path / "film.mp4", tmp_path / "film.blend"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "render_demo.py"), "--out", str(out),
                           "--resolution", "320x180", "--fps", "2", "--blend", str(blend)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    acts = report["acts"]
    assert report["frames"] == acts[-1]["last"] - acts[0]["first"] + 1
    assert report["rendered"] < report["frames"]  # held frames are rendered once
    assert out.with_name("film_contact.png").exists()
    probe = tmp_path / "frame.png"
    script = f"""
import sys, bpy, numpy as np
bpy.ops.wm.open_mainfile(filepath={str(blend)!r})
assert not any(m.startswith("symbreak") for m in sys.modules), "the add-on must not be loaded"
clip = bpy.data.movieclips.load({str(out)!r})
print("FRAMES", clip.frame_duration)
scene = bpy.context.scene
scene.render.image_settings.media_type = 'IMAGE'
scene.render.image_settings.file_format = 'PNG'
scene.frame_set({acts[1]["last"]})
scene.render.filepath = {str(probe)!r}
bpy.ops.render.render(write_still=True)
image = bpy.data.images.load({str(probe)!r})
pixels = np.empty(len(image.pixels), dtype=np.float32)
image.pixels.foreach_get(pixels)
print("SPREAD", float(pixels.reshape(-1, 4)[:, :3].std()))
"""
    fresh = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                           cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in fresh.stdout.splitlines() if line.startswith(("FRAMES", "SPREAD")))
    assert int(lines["FRAMES"]) == report["frames"]
    assert float(lines["SPREAD"]) > 0.02 and probe.exists()
