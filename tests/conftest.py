"""Shared pytest fixtures. The Blender ones act only on tests/test_addon_*.py, so engine tests
never import bpy."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _blender_test(request: pytest.FixtureRequest) -> bool:
    return Path(str(request.node.path)).name.startswith("test_addon")


@pytest.fixture(scope="session")
def symbreak():
    """The repository imported as the extension package ``symbreak`` and registered once."""
    pytest.importorskip("bpy")
    module = sys.modules.get("symbreak")
    if module is None:
        spec = importlib.util.spec_from_file_location("symbreak", ROOT / "__init__.py",
                                                      submodule_search_locations=[str(ROOT)])
        module = importlib.util.module_from_spec(spec)
        sys.modules["symbreak"] = module
        spec.loader.exec_module(module)
    module.register()
    yield module
    module.unregister()


@pytest.fixture(autouse=True)
def _factory_scene(request: pytest.FixtureRequest):
    """Reset Blender to the factory scene before each add-on test."""
    if _blender_test(request):
        import bpy

        bpy.ops.wm.read_homefile(app_template="")
    yield


@pytest.fixture(autouse=True)
def fast_training(request):
    """In an add-on test module that sets ``ITERATIONS``, every test trains that many steps."""
    iterations = getattr(request.module, "ITERATIONS", None)
    if iterations is None:
        yield None
        return
    module = request.getfixturevalue("symbreak")
    import bpy

    bpy.context.scene.symbreak.training.iterations = iterations
    yield module
