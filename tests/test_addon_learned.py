"""The learned order parameter in the add-on (bpy 5.0, headless): Learn Order Parameter on the
square → rectangle task, its use as the symmetry-breaking input, its surface and its panel rows."""

import time

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from helpers import activate, demo, draw, expect_cancelled  # noqa: E402


def square_to_rectangle():
    demo()
    obj = bpy.data.objects["Task 2"]
    activate(obj)
    return obj


def learned(obj):
    from symbreak.addon import storage

    assert bpy.ops.symbreak.learn_order_parameter() == {'FINISHED'}
    return storage.learned_order_parameter(obj)


def dominant(order_parameter) -> int:
    """The degree that carries most of an order parameter's norm (2 or 4 break the square as the
    rectangle does)."""
    shares = order_parameter.shares()
    return max(shares, key=shares.__getitem__)


def test_learned_order_parameter_is_even(symbreak):
    from e3nn import o3

    obj = square_to_rectangle()
    found = learned(obj)
    norms = {l: np.linalg.norm(c) for l, c in found.blocks.items()}
    assert set(norms) == {1, 2, 3, 4, 5} and found.values.shape == (35,) and found.origin == 'learned'
    assert np.hypot(norms[2], norms[4]) >= 0.9 * np.linalg.norm(found.values)
    assert dominant(found) in (2, 4) and f"learned: L={dominant(found)}" in found.description
    assert o3.Irreps(found.irreps) == o3.Irreps("1o+2e+3o+4e+5o")


def test_learned_input_reaches_the_target(symbreak, capfd):
    """Default iterations; the Curie check passes on the learned input's significant blocks."""
    from symbreak.addon import inputs, storage

    obj = square_to_rectangle()
    found = learned(obj)
    obj.symbreak.breaking = 'LEARNED'
    problem = inputs.problem(inputs.source(bpy.context), inputs.settings(bpy.context))
    assert problem.order_parameter.irreps == "1o+2e+3o+4e+5o" and problem.order_parameter.is_global
    capfd.readouterr()
    assert bpy.ops.symbreak.train() == {'FINISHED'}
    assert "Warning" not in capfd.readouterr().out and storage.symmetry(obj)["warning"] == ""
    assert storage.symmetry(obj)["inputs"].startswith(f"the input learned: L={dominant(found)}")
    p = storage.prediction(obj)
    assert np.linalg.norm(p.predicted - storage.target(obj), axis=1).max() < 0.05 and not p.ambiguous.any()
    assert bpy.ops.symbreak.predict() == {'FINISHED'}  # the stored input matches the model


@pytest.mark.parametrize("share, learnable", [(0.05, False), (0.4, True)])
def test_degrees_below_a_tenth_of_the_norm_break_nothing(symbreak, capfd, share, learnable):
    """A unit-norm learned input: the square's axis z in L=1, 3 and 5 keeps its fourfold rotation;
    x² − y² in L=2 breaks it as the rectangle does, but only once it carries 10% of the norm."""
    from symbreak.addon import storage
    from symbreak.engine import api, signals

    obj = square_to_rectangle()
    about_x, about_y, about_z = signals.spherical_harmonics(5, np.eye(3))  # zonal: P_l(x), P_l(y), P_l(z)

    def unit(signal, l):
        return signal[l * l:(l + 1) ** 2] / np.linalg.norm(signal[l * l:(l + 1) ** 2])

    full = np.zeros(36)
    for l in (1, 3, 5):
        full[l * l:(l + 1) ** 2] = (1 - share) * unit(about_z, l)
    full[4:9] = 3 * share * unit(about_x - about_y, 2)  # L=2 carries ``share`` of the sum of block norms
    normed = full / np.linalg.norm(full)
    found = api.OrderParameter({l: normed[l * l:(l + 1) ** 2] for l in range(1, 6)}, 'learned', "learned: by hand")
    assert found.shares()[2] == pytest.approx(100 * share) and found.shares()[4] == pytest.approx(0)
    assert sorted(l for l, _ in found.significant()) == ([1, 2, 3, 5] if learnable else [1, 3, 5])
    storage.store_learned_order_parameter(obj, found)
    obj.symbreak.breaking = 'LEARNED'
    bpy.context.scene.symbreak.training.iterations = 5
    capfd.readouterr()
    assert bpy.ops.symbreak.train() == {'FINISHED'}
    warned = "Warning: Not learnable with the input learned: " in capfd.readouterr().out
    assert warned != learnable and (storage.symmetry(obj)["warning"] == "") == learnable


def test_learning_job_reports_progress_and_cancels_within_half_a_second(symbreak, monkeypatch):
    """The Analyze Symmetry sub-panel shows the learning's steps, the Training panel does not."""
    from symbreak.addon import jobs, panel
    from symbreak.engine import api

    square_to_rectangle()
    task = api.TASKS['square-to-rectangle']
    job = jobs.Job('learning', lambda progress, cancel: api.learn_order_parameter(
        task.start, task.target, config=api.ModelConfig(), iterations=100000, progress=progress, cancel=cancel),
        100000)
    monkeypatch.setattr(jobs, "current", job.start())
    deadline = time.perf_counter() + 30
    while job.iteration < 2 and time.perf_counter() < deadline:
        time.sleep(0.01)
    assert job.iteration >= 2 and np.isfinite(job.loss) and not job.done
    assert any(t.startswith("Step ") and "/100000  loss " in t for t in draw(panel.SYMBREAK_PT_symmetry))
    assert not any(t.startswith("Step ") for t in draw(panel.SYMBREAK_PT_training))
    t0 = time.perf_counter()
    job.cancel()
    assert job.wait(0.5), "learning did not stop within 0.5 s"
    assert time.perf_counter() - t0 < 0.5
    assert job.cancelled and job.error is None and job.result is None


def test_surface_draws_the_padded_vector(symbreak):
    from symbreak.addon import mesh
    from symbreak.engine import signals

    obj = square_to_rectangle()
    found = learned(obj)
    obj.symbreak.breaking = 'LEARNED'
    bpy.context.scene.symbreak.display.signal_level = 2
    assert bpy.ops.symbreak.show_order_parameter() == {'FINISHED'}
    surfaces = [c for c in obj.children if c.symbreak.role == 'ORDER_PARAMETER']
    labels = [c for c in obj.children if c.symbreak.role == 'LABEL']
    assert len(surfaces) == 1 and f"learned: L={dominant(found)}" in labels[0].data.body
    surface = surfaces[0]
    assert len(surface.data.vertices) == 10 * 4 ** 2 + 2 and not surface.data.validate()
    values = np.empty(len(surface.data.vertices), dtype=np.float32)
    surface.data.attributes["signal"].data.foreach_get("value", values)
    grid = signals.sphere_grid(2)[0]
    full = found.signal()  # no L=0 part
    np.testing.assert_allclose(values, signals.evaluate(full[None], grid)[0], rtol=1e-4, atol=1e-7)
    distance = np.linalg.norm(mesh.positions(surface.data) - mesh.positions(obj.data).mean(axis=0), axis=1)
    np.testing.assert_allclose(distance / distance.max(), np.abs(values) / np.abs(values).max(), atol=1e-5)


def test_panel_shows_norms_per_degree(symbreak):
    from symbreak.addon import panel

    obj = square_to_rectangle()
    assert "symbreak.learn_order_parameter" in draw(panel.SYMBREAK_PT_symmetry)
    obj.symbreak.breaking = 'LEARNED'
    assert "None yet: Learn Order Parameter" in draw(panel.SYMBREAK_PT_main)
    found = learned(obj)
    shown = draw(panel.SYMBREAK_PT_symmetry)
    assert f"Learned order parameter: L={dominant(found)} dominates" in shown
    rows = [t for t in shown if t.startswith("L=")]
    assert [r.split()[0] for r in rows] == ["L=1", "L=2", "L=3", "L=4", "L=5"]
    top = rows[dominant(found) - 1]
    assert top.split()[1] == f"{found.shares()[dominant(found)]:.1f}%" and "█" * 9 in top
    assert found.description in draw(panel.SYMBREAK_PT_main)


# --- bad input: CANCELLED with a report, scene unchanged ---------------------------------------------

def test_no_active_object(symbreak):
    demo()
    activate(None)
    expect_cancelled(bpy.ops.symbreak.learn_order_parameter, "No active object")


def test_non_mesh(symbreak):
    demo()
    activate(bpy.data.objects["Task 1 Label"])
    expect_cancelled(bpy.ops.symbreak.learn_order_parameter, "not a mesh")


def test_missing_target(symbreak):
    activate(bpy.data.objects["Cube"])
    expect_cancelled(bpy.ops.symbreak.learn_order_parameter, "no shape key")


def test_nan_target(symbreak):
    from symbreak.addon import mesh

    obj = square_to_rectangle()
    target = mesh.shape_key_positions(obj, "Target")
    target[0, 0] = np.nan
    mesh.set_shape_key(obj, "Target", target)
    expect_cancelled(bpy.ops.symbreak.learn_order_parameter, "NaN")


def test_learned_input_before_there_is_one(symbreak, capfd):
    obj = square_to_rectangle()
    obj.symbreak.breaking = 'LEARNED'  # chosen before learning: no input yet
    expect_cancelled(bpy.ops.symbreak.show_order_parameter, "Analyze Symmetry first")
    bpy.context.scene.symbreak.training.iterations = 5
    capfd.readouterr()
    assert bpy.ops.symbreak.train() == {'FINISHED'}
    assert "Warning: Not learnable with no symmetry-breaking input" in capfd.readouterr().out
