"""The extension as a package: registration, the manifest, and install-from-zip into a fresh user
folder, in real Blender (bpy 5.0, headless)."""

import os
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

ROOT = Path(__file__).resolve().parent.parent


def registered(symbreak):
    """(classes still registered, Scene.symbreak exists, Object.symbreak exists)."""
    classes = {cls.__name__ for cls in symbreak.addon.addon.CLASSES if cls.is_registered}
    operators = {name for name in dir(bpy.types) if name.startswith("SYMBREAK_")}
    return classes | operators, hasattr(bpy.types.Scene, "symbreak"), hasattr(bpy.types.Object, "symbreak")


def test_register_unregister_three_times(symbreak):
    everything = {cls.__name__ for cls in symbreak.addon.addon.CLASSES}
    assert registered(symbreak) == (everything, True, True)
    for _ in range(3):
        symbreak.unregister()
        assert registered(symbreak) == (set(), False, False)
        symbreak.register()
        assert registered(symbreak) == (everything, True, True)
    assert bpy.ops.symbreak.add_seed_demo() == {'FINISHED'}


def test_operator_names_follow_one_scheme(symbreak):
    for cls in symbreak.addon.operators.CLASSES:
        verb = cls.__name__.removeprefix("SYMBREAK_OT_")
        assert cls.bl_idname == f"symbreak.{verb}"


def test_manifest():
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text(encoding="utf-8"))
    assert manifest["schema_version"] == "1.0.0" and manifest["id"] == "symbreak"
    assert manifest["blender_version_min"] == "5.0.0"
    assert all(lic.startswith("SPDX:") for lic in manifest["license"])
    assert set(manifest["permissions"]) == {"files"} and manifest["permissions"]["files"]
    excluded = manifest["build"]["paths_exclude_pattern"]
    assert {"/tests/", "/scripts/", "/dist/", "/out/"} <= set(excluded)


INSTALLED_DEMO = """
import sys, bpy
bpy.ops.extensions.package_install_files(filepath=ZIP, repo='user_default', enable_on_install=True)
package = sys.modules['bl_ext.user_default.symbreak']
assert package.__file__.startswith(HOME), package.__file__
assert 'symbreak' not in sys.modules
for obj in list(bpy.data.objects):
    bpy.data.objects.remove(obj)
scene = bpy.context.scene
scene.symbreak.training.iterations = 10
assert bpy.ops.symbreak.add_seed_demo() == {'FINISHED'}
obj = bpy.data.objects['Task 3']
bpy.context.view_layer.objects.active = obj
obj.select_set(True)
for op in (bpy.ops.symbreak.train, bpy.ops.symbreak.predict, bpy.ops.symbreak.show_signals,
           bpy.ops.symbreak.animate):
    assert op() == {'FINISHED'}, op
scene.frame_start, scene.frame_end = 1, 3
scene.symbreak.render.resolution = 'SCENE'
scene.render.resolution_x, scene.render.resolution_y = 64, 36
assert bpy.ops.symbreak.render_video(filepath=OUT) == {'FINISHED'}
assert bpy.data.movieclips.load(OUT).frame_duration == 3
print('INSTALLED-DEMO-OK')
"""


def test_build_zip_install_and_run_demo(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_extension.py"), "--no-wheels",
                    "--output-dir", str(dist)], check=True, capture_output=True, text=True)
    (zip_path,) = dist.glob("symbreak-*.zip")
    names = set(zipfile.ZipFile(zip_path).namelist())
    assert {"blender_manifest.toml", "__init__.py", "addon/operators/training.py", "engine/api.py"} <= names
    assert not any(n.startswith(("tests/", "scripts/", ".venv/", "dist/", "out/", ".ci/")) for n in names)

    home = tmp_path / "home"
    home.mkdir()
    script = tmp_path / "installed_demo.py"
    script.write_text(f"ZIP = {str(zip_path)!r}\nHOME = {str(home)!r}\nOUT = {str(tmp_path / 'v.mp4')!r}\n"
                      + textwrap.dedent(INSTALLED_DEMO))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BLENDER_USER", "PYTHONPATH"))}
    env["HOME"] = str(home)
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "INSTALLED-DEMO-OK" in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]
    assert any(home.rglob("extensions/user_default/symbreak/blender_manifest.toml"))
