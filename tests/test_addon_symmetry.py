"""Symmetry analysis in the add-on (bpy 5.0, headless): Analyze Symmetry, Use Order Parameter,
Train's Curie warning and the order-parameter surface, checked on the data they store and make."""

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from helpers import activate, demo, draw, expect_cancelled  # noqa: E402

ITERATIONS = 10


def task(number):
    demo()
    obj = bpy.data.objects[f"Task {number}"]
    activate(obj)
    return obj


def order_parameter_signal(found):
    """A suggested order parameter as a full signal, evaluated at ±x, ±y and z."""
    from symbreak.engine import signals

    signal = found.signal()
    directions = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1]], dtype=float)
    return signals.evaluate(signal[None], directions)[0]


def test_analyze_square_to_rectangle(symbreak):
    from symbreak.addon import storage

    obj = task(2)
    assert bpy.ops.symbreak.analyze_symmetry() == {'FINISHED'}
    record = storage.symmetry(obj)
    assert (record["start_group"], record["start_order"]) == ("D4h", 16)
    assert (record["kept_group"], record["kept_order"]) == ("D2h", 8)
    assert not record["learnable"] and record["broken_operations"] == 8
    assert record["verdict"].startswith("Not learnable")
    found = storage.suggested_order_parameter(obj)
    assert found.irreps == "2e" and found.origin == 'group theory' and "y² − x²" in found.description  # long y
    at_x, at_minus_x, at_y, at_minus_y, at_z = order_parameter_signal(found)  # ∝ y² − x²
    assert at_x == pytest.approx(at_minus_x) and at_y == pytest.approx(at_minus_y)
    assert at_x == pytest.approx(-at_y) and abs(at_x) > 0.1 and at_y > 0 and at_z == pytest.approx(0.0, abs=1e-6)
    assert "Not learnable with no symmetry-breaking input" in record["warning"]


def test_analyze_rectangle_to_square_is_learnable(symbreak):
    from symbreak.addon import storage

    obj = task(1)
    assert bpy.ops.symbreak.analyze_symmetry() == {'FINISHED'}
    record = storage.symmetry(obj)
    assert record["learnable"] and record["start_group"] == record["kept_group"] == "D2h"
    assert record["order_parameter"] is None and record["warning"] == ""
    assert record["verdict"].startswith("Learnable")


def test_task_3_input_already_breaks_the_symmetry(symbreak):
    from symbreak.addon import storage

    obj = task(3)
    assert bpy.ops.symbreak.analyze_symmetry() == {'FINISHED'}
    record = storage.symmetry(obj)
    assert not record["learnable"] and record["warning"] == ""  # the task, not the inputs
    assert record["inputs"] == "the input L=2, even, ∝ x² − y²"  # the task's own input


def test_use_order_parameter_fixes_training(symbreak, capfd):
    from symbreak.addon import inputs, storage
    from symbreak.engine import api

    obj = task(2)
    capfd.readouterr()
    assert bpy.ops.symbreak.train() == {'FINISHED'}  # it warns but still trains, as in Task 2
    assert "Warning: Not learnable with no symmetry-breaking input" in capfd.readouterr().out
    assert "L=2, even" in storage.symmetry(obj)["warning"] and storage.has_model(obj)

    assert bpy.ops.symbreak.use_order_parameter() == {'FINISHED'}
    assert obj.symbreak.breaking == 'ORDER_PARAMETER' and storage.symmetry(obj)["warning"] == ""
    src = inputs.source(bpy.context)
    problem = inputs.problem(src, inputs.settings(bpy.context))
    assert problem.order_parameter.irreps == "2e" and problem.order_parameter.origin == 'group theory'
    assert api.analyze(problem.start, problem.target, problem.order_parameter)["warning"] == ""

    capfd.readouterr()
    assert bpy.ops.symbreak.train() == {'FINISHED'}
    assert "Warning" not in capfd.readouterr().out
    assert storage.symmetry(obj)["warning"] == ""
    assert bpy.ops.symbreak.predict() == {'FINISHED'}  # the stored input matches the model


def test_order_parameter_surface(symbreak):
    from symbreak.addon import mesh
    from symbreak.engine import signals

    obj = task(3)
    bpy.context.scene.symbreak.display.signal_level = 3
    assert bpy.ops.symbreak.show_order_parameter() == {'FINISHED'}
    assert bpy.ops.symbreak.show_order_parameter() == {'FINISHED'}  # rebuilding replaces
    surfaces = [c for c in obj.children if c.symbreak.role == 'ORDER_PARAMETER']
    labels = [c for c in obj.children if c.symbreak.role == 'LABEL']
    assert len(surfaces) == 1 and len(labels) == 1 and "x² − y²" in labels[0].data.body
    surface = surfaces[0]
    assert len(surface.data.vertices) == 10 * 4 ** 3 + 2 and len(surface.data.polygons) == 20 * 4 ** 3
    assert not surface.data.validate()
    centre = mesh.positions(obj.data).mean(axis=0)  # both in the object's frame
    offsets = mesh.positions(surface.data) - centre
    values = np.empty(len(offsets), dtype=np.float32)
    surface.data.attributes["signal"].data.foreach_get("value", values)
    distance = np.linalg.norm(offsets, axis=1)
    grid = signals.sphere_grid(3)[0]  # the surface is r = s|f(u)| u over this grid
    np.testing.assert_allclose(offsets, distance[:, None] * grid, atol=1e-5)
    along = np.abs(grid) > 0.99
    assert (values[along[:, 0]] > 0).all() and (values[along[:, 1]] < 0).all()  # x² − y²: red on x, blue on y
    assert distance[along[:, 0]].min() > 0.99 * distance.max() and distance[along[:, 2]].max() < 1e-6


def test_surface_of_the_suggested_order_parameter(symbreak):
    obj = task(2)
    expect_cancelled(bpy.ops.symbreak.show_order_parameter, "Analyze Symmetry first")
    bpy.ops.symbreak.analyze_symmetry()
    assert bpy.ops.symbreak.show_order_parameter() == {'FINISHED'}
    assert any(c.symbreak.role == 'ORDER_PARAMETER' for c in obj.children)


def test_panel_shows_analysis_warning_and_fix(symbreak):
    from symbreak.addon import panel

    task(2)
    bpy.ops.symbreak.train()
    shown = draw(panel.SYMBREAK_PT_symmetry)
    assert "Start: D4h (16 operations)" in shown and "Kept by the target: D2h" in shown
    assert any(t.startswith("Not learnable: the target breaks 8 of the 16") for t in shown)
    assert any("y² − x²" in t for t in shown) and "symbreak.use_order_parameter" in shown
    assert "Not learnable with no symmetry-breaking input" in shown
    training = draw(panel.SYMBREAK_PT_training)
    assert "Not learnable with no symmetry-breaking input" in training
    assert "symbreak.use_order_parameter" in training
    bpy.ops.symbreak.use_order_parameter()
    assert "symbreak.use_order_parameter" not in draw(panel.SYMBREAK_PT_training)


# --- bad input: CANCELLED with a report, scene unchanged ---------------------------------------------

OPERATORS = ["analyze_symmetry", "use_order_parameter", "show_order_parameter"]


@pytest.mark.parametrize("op", OPERATORS)
def test_no_active_object(symbreak, op):
    demo()
    activate(None)
    expect_cancelled(getattr(bpy.ops.symbreak, op), "No active object")


@pytest.mark.parametrize("op", OPERATORS)
def test_non_mesh(symbreak, op):
    demo()
    activate(bpy.data.objects["Task 1 Label"])
    expect_cancelled(getattr(bpy.ops.symbreak, op), "not a mesh")


def test_nothing_to_use_before_analysis(symbreak):
    task(2)
    expect_cancelled(bpy.ops.symbreak.use_order_parameter, "Analyze Symmetry first")


def test_order_parameter_input_before_there_is_one(symbreak, capfd):
    from symbreak.addon import storage

    obj = task(2)
    obj.symbreak.breaking = 'ORDER_PARAMETER'  # chosen before Analyze Symmetry found one: no input yet
    capfd.readouterr()
    assert bpy.ops.symbreak.train() == {'FINISHED'}
    assert "Warning: Not learnable with no symmetry-breaking input" in capfd.readouterr().out
    assert bpy.ops.symbreak.use_order_parameter() == {'FINISHED'}
    assert storage.order_parameter(obj).irreps == "2e"


def test_analyze_needs_a_target(symbreak):
    activate(bpy.data.objects["Cube"])
    expect_cancelled(bpy.ops.symbreak.analyze_symmetry, "no shape key")


def _flat_grid(columns: int, rows: int) -> np.ndarray:
    """A flat grid of unit spacing centred on the origin, ``(columns * rows, 3)``."""
    x, y = np.meshgrid(np.arange(columns) - (columns - 1) / 2, np.arange(rows) - (rows - 1) / 2)
    return np.column_stack([x.ravel(), y.ravel(), np.zeros(x.size)])


def _with_target_object(start: np.ndarray, target: np.ndarray):
    """A point mesh at ``start``, active, whose target is another object at ``target``."""
    made = []
    for name, points in (("Grid", start), ("Target", target)):
        data = bpy.data.meshes.new(name)
        data.from_pydata(points.tolist(), [], [])
        made.append(bpy.data.objects.new(name, data))
        bpy.context.scene.collection.objects.link(made[-1])
    grid, target_object = made
    activate(grid)
    grid.symbreak.target_mode, grid.symbreak.target_object = 'OBJECT', target_object
    return grid


def test_analyze_reports_vertices_the_graph_cannot_tell_apart(symbreak, capfd):
    """A grid squashed along y keeps its D2h, but on a small radius graph without a hub its
    vertices see congruent neighbourhoods that must move differently: the report and panel say so."""
    from symbreak.addon import panel, storage

    start = _flat_grid(12, 6)
    grid = _with_target_object(start, start * [1.0, 0.5, 1.0])
    training = bpy.context.scene.symbreak.training
    training.graph, training.radius, training.layers, training.hub = 'RADIUS', 1.1, 2, False
    assert bpy.ops.symbreak.analyze_symmetry() == {'FINISHED'}
    record = storage.symmetry(grid)
    assert record["learnable"] and record["local"]["indistinguishable"] == 72
    assert "72 of 72 vertices cannot be fit" in capfd.readouterr().out
    assert any(t.startswith("72 of 72 vertices cannot be fit within") for t in draw(panel.SYMBREAK_PT_symmetry))
    assert bpy.ops.symbreak.train() == {'FINISHED'}  # Train says it too, before it trains
    assert "Warning: 72 of 72 vertices cannot be fit" in capfd.readouterr().out
    training.hub = True  # through the hub every vertex sees the whole grid
    assert bpy.ops.symbreak.analyze_symmetry() == {'FINISHED'}
    assert storage.symmetry(grid)["local"]["hub"] and storage.symmetry(grid)["warning"] == ""
    training.graph = 'ALL_PAIRS'
    assert bpy.ops.symbreak.analyze_symmetry() == {'FINISHED'}
    assert storage.symmetry(grid)["local"] is None and storage.symmetry(grid)["warning"] == ""


def test_an_order_parameter_that_does_not_fix_the_target_is_not_offered(symbreak):
    """A flat grid bent into a parabola (D4h to C2v): no global order parameter keeps exactly C2v,
    so the closest one is shown as such, without Use Order Parameter, which refuses it."""
    from symbreak.addon import panel, storage
    from symbreak.engine import api

    start = _flat_grid(6, 6)
    grid = _with_target_object(start, start + np.outer(0.05 * start[:, 0] ** 2, [0, 0, 1]))
    assert bpy.ops.symbreak.analyze_symmetry() == {'FINISHED'}
    record = storage.symmetry(grid)
    found = storage.suggested_order_parameter(grid)
    assert record["kept_group"] == "C2v" and found is not None and found.symmetry != "C2v"
    assert not api.fixes_target(record)
    shown = draw(panel.SYMBREAK_PT_symmetry)
    assert f"Closest order parameter (keeps {found.symmetry}):" in shown and "symbreak.use_order_parameter" not in shown
    assert "symbreak.use_order_parameter" not in draw(panel.SYMBREAK_PT_training)
    expect_cancelled(bpy.ops.symbreak.use_order_parameter, "no global order parameter fixes this target")
    assert storage.order_parameter(grid) is None
