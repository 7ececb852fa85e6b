"""The UI thread does no engine work: Train and Analyze Symmetry, run from a fresh Blender, import
torch, e3nn and scipy and compute point groups only in background jobs."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("bpy")

ROOT = Path(__file__).resolve().parent.parent

WATCHED = """
import importlib.abc, importlib.util, json, sys, threading

ROOT = sys.argv[1]
seen = []


class Watch(importlib.abc.MetaPathFinder):
    \"\"\"Records the thread that imports torch, e3nn or scipy, and wraps the point-group search to
    record the thread that calls it.\"\"\"

    def find_spec(self, name, path, target=None):
        if name in ("torch", "e3nn", "scipy"):
            seen.append([name, threading.current_thread().name])
        if name != "symbreak.engine.symmetry._analyze":
            return None
        spec = importlib.util.spec_from_file_location(name, f"{ROOT}/engine/symmetry/_analyze.py")
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            group = module.point_group

            def recorded(*args, **kwargs):
                seen.append(["point_group", threading.current_thread().name])
                return group(*args, **kwargs)

            module.point_group = recorded

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, Watch())
import bpy

spec = importlib.util.spec_from_file_location("symbreak", f"{ROOT}/__init__.py", submodule_search_locations=[ROOT])
symbreak = importlib.util.module_from_spec(spec)
sys.modules["symbreak"] = symbreak
spec.loader.exec_module(symbreak)
symbreak.register()
bpy.ops.wm.read_homefile(app_template="")
bpy.context.scene.symbreak.training.iterations = 5
assert bpy.ops.symbreak.add_seed_demo() == {'FINISHED'}
obj = bpy.data.objects["Task 2"]
bpy.context.view_layer.objects.active = obj
obj.select_set(True)
assert bpy.ops.symbreak.analyze_symmetry() == {'FINISHED'}
assert bpy.ops.symbreak.train() == {'FINISHED'}
print("SEEN " + json.dumps(seen))
"""


def test_train_and_analyze_do_no_engine_work_on_the_calling_thread(tmp_path):
    script = tmp_path / "watched.py"
    script.write_text(textwrap.dedent(WATCHED))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, str(script), str(ROOT)], capture_output=True, text=True,
                            timeout=300, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    seen = json.loads(result.stdout.split("SEEN ", 1)[1])
    imported = {name for name, _ in seen if name != "point_group"}
    assert imported == {"torch", "e3nn", "scipy"}, seen
    assert sum(name == "point_group" for name, _ in seen) == 2, seen  # Analyze, and Train's Curie check
    assert all(thread != "MainThread" for _, thread in seen), seen
