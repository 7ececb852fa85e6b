"""The add-on's operators in real Blender (bpy 5.0, headless), checked on the data they make."""

import json
import time

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from helpers import activate, demo, evaluated, expect_cancelled, fcurves, select_vertices, train_selected, trained  # noqa: E402

ITERATIONS = 20


# --- each operator on data ------------------------------------------------------------------------

def test_add_seed_demo_builds_three_tasks(symbreak):
    from symbreak.addon import mesh, storage
    from symbreak.engine.api import TASKS

    objects = demo()
    for obj, task in zip(objects, TASKS):
        assert obj.symbreak.task == task
        np.testing.assert_allclose(mesh.positions(obj.data), TASKS[task].start, atol=1e-6)
        np.testing.assert_allclose(mesh.shape_key_positions(obj, "Target"), TASKS[task].target, atol=1e-6)
        collection = obj.users_collection[0]
        assert collection.name.startswith(f"{obj.name}:")
        assert any(o.type == 'FONT' for o in collection.objects)
        assert obj.data.shape_keys.key_blocks["Target"].value == 0.0
    assert [o.symbreak.breaking for o in objects] == ['NONE', 'NONE', 'ORDER_PARAMETER']
    assert storage.order_parameter(objects[2]).to_dict() == TASKS['square-to-rectangle-broken'].order_parameter.to_dict()
    assert bpy.context.active_object == objects[0]


def test_train_stores_model_and_loss_on_object(symbreak, monkeypatch):
    """The final loss shown is the engine's (the loss after the last step), not the history's last."""
    from symbreak.addon import panel, storage
    from symbreak.engine import api

    results = []
    original = api.train

    def recorded(*args, **kwargs):
        results.append(original(*args, **kwargs))
        return results[-1]

    monkeypatch.setattr(api, "train", recorded)
    obj = trained("Task 3")
    losses = storage.loss_history(obj)
    assert losses.shape == (ITERATIONS,) and np.isfinite(losses).all()
    np.testing.assert_array_equal(losses, results[0].loss_history)
    assert storage.has_model(obj) and storage.has_prediction(obj)
    assert isinstance(obj[storage.MODEL], str)  # base64 text, nothing pickled
    assert obj.symbreak.final_loss == pytest.approx(results[0].final_loss)
    assert results[0].final_loss != pytest.approx(losses[-1])
    p = storage.prediction(obj)
    assert p.signals.shape == (4, 36) and p.start.shape == (4, 3)
    line = panel.sparkline(losses)
    assert len(line) == min(32, len(losses)) and line[0] == "█" and line[-1] == "▁"  # a falling loss


def test_train_uses_edit_mode_selection(symbreak):
    from symbreak.addon import storage

    obj = demo()[0]
    activate(obj)
    train_selected(obj, [True, True, False, False])
    assert storage.prediction(obj).indices.tolist() == [0, 1]


def test_predict_reuses_model_and_is_equivariant(symbreak):
    from mathutils import Matrix

    from symbreak.addon import storage

    obj = trained("Task 1")
    before = storage.prediction(obj)
    losses = storage.loss_history(obj).copy()
    assert bpy.ops.symbreak.predict() == {'FINISHED'}
    again = storage.prediction(obj)
    np.testing.assert_allclose(again.signals, before.signals, atol=1e-6)
    np.testing.assert_array_equal(storage.loss_history(obj), losses)  # not retrained
    obj.rotation_euler = (0.3, 0.0, 1.0)  # moving the object changes nothing in its own frame
    obj.location.x += 5.0
    bpy.context.view_layer.update()
    assert bpy.ops.symbreak.predict() == {'FINISHED'}
    np.testing.assert_allclose(storage.prediction(obj).signals, before.signals, atol=1e-6)
    obj.data.transform(Matrix.Rotation(np.pi / 2, 4, 'Z'))  # rotate the vertices: every peak rotates with them
    assert bpy.ops.symbreak.predict() == {'FINISHED'}
    rotated = storage.prediction(obj)
    r = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(rotated.ambiguous, before.ambiguous)
    for mine, theirs in zip(rotated.peaks, before.peaks):
        distance = np.linalg.norm(mine[:, None, :] - (theirs @ r.T)[None, :, :], axis=-1)
        assert distance.min(axis=0).max() < 1e-4 and distance.min(axis=1).max() < 1e-4


def test_show_signals_counts_and_colours(symbreak):
    obj = trained("Task 1")
    d = bpy.context.scene.symbreak.display
    d.signal_level = 2
    assert bpy.ops.symbreak.show_signals() == {'FINISHED'}
    signals = next(c for c in obj.children if c.symbreak.role == 'SIGNALS')
    per_vertices, per_faces = 10 * 4 ** 2 + 2, 20 * 4 ** 2
    assert len(signals.data.vertices) == 4 * per_vertices
    assert len(signals.data.polygons) == 4 * per_faces
    assert len(signals.data.edges) == 4 * 30 * 4 ** 2 and not signals.data.validate()  # a valid mesh
    values = np.empty(len(signals.data.vertices), dtype=np.float32)
    signals.data.attributes["signal"].data.foreach_get("value", values)
    colors = np.empty(len(values) * 4, dtype=np.float32)
    signals.data.color_attributes["signal_color"].data.foreach_get("color", colors)
    colors = colors.reshape(-1, 4)
    assert (colors[values > 1e-6, 0] > colors[values > 1e-6, 2]).all()  # positive: red
    assert (colors[values < -1e-6, 2] > colors[values < -1e-6, 0]).all()  # negative: blue
    assert signals.data.materials[0].name == "SymBreak Signal"
    assert bpy.ops.symbreak.show_signals() == {'FINISHED'}  # rebuilding replaces, never stacks
    assert sum(c.symbreak.role == 'SIGNALS' for c in obj.children) == 1


def test_animate_reaches_predicted_positions(symbreak):
    from symbreak.addon import storage

    obj = trained("Task 3")
    bpy.ops.symbreak.show_signals()
    d = bpy.context.scene.symbreak.display
    d.frame_start, d.frame_end = 5, 25
    assert bpy.ops.symbreak.animate() == {'FINISHED'}
    p = storage.prediction(obj)
    curves = list(fcurves(obj.data.shape_keys))
    assert len(curves) == 1 and [k.co[0] for k in curves[0].keyframe_points] == [5.0, 25.0]
    assert curves[0].keyframe_points[0].easing == "EASE_IN_OUT"
    np.testing.assert_allclose(evaluated(obj, 1), p.start, atol=1e-5)
    expected = np.where(p.ambiguous[:, None], p.start, p.predicted)
    np.testing.assert_allclose(evaluated(obj, 25), expected, atol=1e-5)
    middle = evaluated(obj, 15)
    assert not np.allclose(middle, p.start) and not np.allclose(middle, expected)
    signals = next(c for c in obj.children if c.symbreak.role == 'SIGNALS')
    assert signals.data.shape_keys is not None  # surfaces follow


def test_animate_sends_ghosts_to_tied_peaks(symbreak):
    from symbreak.addon import storage

    obj = trained("Task 2")
    p = storage.prediction(obj)
    assert bpy.ops.symbreak.animate() == {'FINISHED'}
    ghosts = next((c for c in obj.children if c.symbreak.role == 'GHOSTS'), None)
    count = sum(len(k) for k, a in zip(p.peaks, p.ambiguous) if a)
    assert p.ambiguous.all()  # the square's symmetry ties every corner's peaks, however short the training
    assert ghosts is not None and len(ghosts.data.vertices) == count
    end = bpy.context.scene.symbreak.display.frame_end
    ends = evaluated(ghosts, end)
    expected = np.concatenate([p.start[i] + np.asarray(p.peaks[i]) for i in np.flatnonzero(p.ambiguous)])
    np.testing.assert_allclose(ends, expected, atol=1e-5)
    # ambiguous vertices themselves stay put: no silently chosen peak
    np.testing.assert_allclose(evaluated(obj, end)[p.ambiguous], p.start[p.ambiguous], atol=1e-5)


# --- the object's own frame ----------------------------------------------------------------------

def test_results_follow_the_object_after_it_moves(symbreak):
    """Stored results are local: after training, move and rotate the object; Animate's last frame
    is the prediction carried by the object's new transform, and what it draws moves with it."""
    from symbreak.addon import mesh, storage

    obj = trained("Task 1")
    bpy.ops.symbreak.show_signals()
    obj.location.x += 5.0
    obj.rotation_euler = (0.4, -0.2, 1.1)
    obj.scale = (1.0, 2.0, 0.5)
    bpy.context.view_layer.update()
    assert bpy.ops.symbreak.animate() == {'FINISHED'}
    p = storage.prediction(obj)
    expected = np.where(p.ambiguous[:, None], p.start, p.predicted)
    end = bpy.context.scene.symbreak.display.frame_end
    np.testing.assert_allclose(evaluated(obj, end, world=True), mesh.to_world(obj, expected), atol=1e-5)
    for role in ('SIGNALS', 'TARGET'):
        shown = next(c for c in obj.children if c.symbreak.role == role)
        np.testing.assert_allclose(np.array(shown.matrix_world), np.array(obj.matrix_world), atol=1e-6)
    target = next(c for c in obj.children if c.symbreak.role == 'TARGET')
    np.testing.assert_allclose(mesh.positions(target.data), storage.target(obj), atol=1e-6)


def test_rotated_task_3_breaks_symmetry_along_its_own_axes(symbreak, capfd):
    """x² − y² and the target are in the object's axes, so a rotated Task 3 is still learnable."""
    from symbreak.addon import storage

    demo()
    obj = bpy.data.objects["Task 3"]
    obj.rotation_euler.z = np.pi / 4
    activate(obj)
    bpy.context.scene.symbreak.training.iterations = 200
    capfd.readouterr()
    assert bpy.ops.symbreak.train() == {'FINISHED'}
    assert "Warning" not in capfd.readouterr().out and storage.symmetry(obj)["warning"] == ""
    p = storage.prediction(obj)
    assert np.linalg.norm(p.predicted - storage.target(obj), axis=1).max() < 0.05 and not p.ambiguous.any()


def test_target_object_is_converted_into_the_source_frame(symbreak):
    """Another mesh placed where the source's Target shape key is in the world gives that target."""
    from symbreak.addon import inputs, mesh

    obj = demo()[0]
    obj.rotation_euler, obj.scale = (0.2, 0.5, -0.7), (1.5, 1.0, 0.8)
    other = bpy.data.objects.new("Other", mesh.new_mesh("Other", mesh.shape_key_positions(obj, "Target")))
    bpy.context.scene.collection.objects.link(other)
    bpy.context.view_layer.update()
    other.matrix_world = obj.matrix_world.copy()
    other.location.z += 1.0  # one unit up in the world
    bpy.context.view_layer.update()
    obj.symbreak.target_mode, obj.symbreak.target_object = 'OBJECT', other
    activate(obj)
    src = inputs.source(bpy.context)
    world = mesh.to_world(obj, mesh.shape_key_positions(obj, "Target")) + [0.0, 0.0, 1.0]
    np.testing.assert_allclose(mesh.to_world(obj, inputs.target(src)), world, atol=1e-5)


def test_render_video_writes_mp4_with_frame_count(symbreak, tmp_path):
    trained("Task 1")
    bpy.ops.symbreak.animate()
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 4
    r = scene.symbreak.render
    r.resolution = 'SCENE'
    scene.render.resolution_x, scene.render.resolution_y = 128, 72
    out = tmp_path / "video" / "clip.mp4"
    assert bpy.ops.symbreak.render_video(filepath=str(out), contact_sheet=True) == {'FINISHED'}
    assert out.stat().st_size > 0
    clip = bpy.data.movieclips.load(str(out))
    assert clip.frame_duration == 4 and tuple(clip.size) == (128, 72)
    sheet = bpy.data.images.load(str(out.with_name("clip_contact.png")))
    assert sheet.size[0] > 128 and sheet.size[1] > 36
    assert scene.camera is not None and scene.camera.name == "SymBreak Camera"


def test_training_job_cancels_within_half_a_second(symbreak):
    from symbreak.addon import jobs
    from symbreak.engine import api

    task = api.TASKS['rectangle-to-square']
    job = jobs.Job('training', lambda progress, cancel: api.train(
        task.start, task.target, config=api.ModelConfig(), iterations=100000, progress=progress, cancel=cancel),
        100000).start()
    deadline = time.perf_counter() + 30
    while job.iteration < 2 and time.perf_counter() < deadline:
        time.sleep(0.01)
    t0 = time.perf_counter()
    job.cancel()
    assert job.wait(0.5), "training did not stop within 0.5 s"
    assert time.perf_counter() - t0 < 0.5
    assert job.cancelled and job.error is None and job.result is None


def test_prediction_job_matches_the_synchronous_call(symbreak):
    from symbreak.addon import jobs
    from symbreak.addon.operators import prediction
    from symbreak.engine import api

    task = api.TASKS['rectangle-to-square']
    model = api.train(task.start, task.target, config=api.ModelConfig(), iterations=5).model
    job = jobs.Job('predicting', lambda progress, cancel: prediction.predict(
        model, task.start, None, None, "float64", progress, cancel)).start()
    assert job.wait(30) and job.error is None
    np.testing.assert_allclose(job.result.signals, api.predict(model, task.start).signals, atol=1e-12)


def test_job_errors_are_one_sentence_and_logged(symbreak, caplog):
    """Bad input: the engine's sentence; a bug: its name in one sentence, the traceback in the log."""
    from symbreak.addon import jobs

    def bad_input(progress, cancel):
        raise ValueError("Give two point sets of the same length")

    def bug(progress, cancel):
        return {}["missing"]

    refused = jobs.Job('training', bad_input).start()
    assert refused.wait(5) and refused.message == "Give two point sets of the same length"
    with caplog.at_level("ERROR", logger="symbreak.addon.jobs"):
        broken = jobs.Job('training', bug).start()
        assert broken.wait(5)
    assert broken.message == ("Training failed (KeyError: 'missing'); the traceback is in the system console")
    assert "Traceback" in caplog.text and "bug" in caplog.text


def test_predict_runs_in_float32_above_a_few_thousand_points(symbreak, monkeypatch):
    """A model trained with a radius graph, run on a 65 × 65 grid."""
    from symbreak.addon import mesh, storage
    from symbreak.addon.operators import prediction
    from symbreak.engine import api

    bpy.context.scene.symbreak.training.graph = 'RADIUS'
    source = trained("Task 1")
    xy = np.stack(np.meshgrid(np.arange(65.0), np.arange(65.0)), axis=-1).reshape(-1, 2)
    grid = bpy.data.objects.new("Grid", mesh.new_mesh("Grid", np.c_[xy, np.zeros(len(xy))]))
    bpy.context.scene.collection.objects.link(grid)
    grid[storage.MODEL] = source[storage.MODEL]
    activate(grid)
    dtypes = []
    original = api.predict

    def recorded(model, positions, **kwargs):
        dtypes.append(kwargs["dtype"])
        return original(model, positions, **kwargs)

    monkeypatch.setattr(api, "predict", recorded)
    assert len(xy) > prediction.FLOAT32_ABOVE
    assert bpy.ops.symbreak.predict() == {'FINISHED'}
    activate(source)
    assert bpy.ops.symbreak.predict() == {'FINISHED'}
    assert dtypes == ["float32", "float64"]
    assert len(storage.prediction(grid).indices) == len(xy)


def test_train_stores_the_settings_it_started_with(symbreak, monkeypatch):
    """Settings changed while training runs are not what the model was trained with."""
    from symbreak.addon import storage
    from symbreak.engine import api

    original = api.train
    t = bpy.context.scene.symbreak.training

    def meanwhile(*args, **kwargs):
        t.lmax, t.seed, t.iterations = 2, 7, 3
        return original(*args, **kwargs)

    monkeypatch.setattr(api, "train", meanwhile)
    obj = trained("Task 1")
    stored = json.loads(obj[storage.CONFIG])
    assert (stored["lmax"], stored["seed"], stored["iterations"]) == (5, 0, ITERATIONS)
    assert len(storage.loss_history(obj)) == ITERATIONS


# --- save, reopen, render without the add-on -------------------------------------------------------

def test_save_reopen_keeps_model_and_animation(symbreak, tmp_path):
    from symbreak.addon import storage

    obj = trained("Task 1")
    bpy.ops.symbreak.show_signals()
    bpy.ops.symbreak.animate()
    p = storage.prediction(obj)
    losses = storage.loss_history(obj)
    end = bpy.context.scene.symbreak.display.frame_end
    path = tmp_path / "demo.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))

    symbreak.unregister()  # the baked animation needs no add-on
    try:
        bpy.ops.wm.open_mainfile(filepath=str(path))
        obj = bpy.data.objects["Task 1"]
        np.testing.assert_allclose(evaluated(obj, end), p.predicted, atol=1e-5)
    finally:
        symbreak.register()

    bpy.ops.wm.open_mainfile(filepath=str(path))
    obj = bpy.data.objects["Task 1"]
    np.testing.assert_array_equal(storage.loss_history(obj), losses)
    assert json.loads(obj[storage.CONFIG])["iterations"] == ITERATIONS
    activate(obj)
    obj.keys()
    del obj[storage.PREDICTION]
    assert bpy.ops.symbreak.predict() == {'FINISHED'}
    np.testing.assert_allclose(storage.prediction(obj).signals, p.signals, atol=1e-6)


# --- bad input: CANCELLED with a report, scene unchanged ---------------------------------------------

@pytest.mark.parametrize("op", ["train", "predict", "show_signals", "animate"])
def test_no_active_object(symbreak, op):
    demo()
    activate(None)
    expect_cancelled(getattr(bpy.ops.symbreak, op), "No active object")


@pytest.mark.parametrize("op", ["train", "predict", "show_signals", "animate"])
def test_non_mesh(symbreak, op):
    demo()
    activate(bpy.data.objects["Task 1 Label"])
    expect_cancelled(getattr(bpy.ops.symbreak, op), "not a mesh")


def test_nothing_selected_object_mode(symbreak):
    obj = demo()[0]
    activate(obj)
    obj.select_set(False)
    expect_cancelled(bpy.ops.symbreak.train, "Nothing selected")


def test_nothing_selected_edit_mode(symbreak):
    obj = demo()[0]
    activate(obj)
    select_vertices(obj, np.zeros(4, dtype=bool))
    bpy.ops.object.mode_set(mode='EDIT')
    try:
        expect_cancelled(bpy.ops.symbreak.train, "Nothing selected")
    finally:
        bpy.ops.object.mode_set(mode='OBJECT')


def test_one_vertex(symbreak):
    from symbreak.addon import mesh

    obj = bpy.data.objects.new("Lonely", mesh.new_mesh("Lonely", np.zeros((1, 3))))
    bpy.context.scene.collection.objects.link(obj)
    mesh.set_shape_key(obj, "Target", np.ones((1, 3)))
    activate(obj)
    expect_cancelled(bpy.ops.symbreak.train, "at least 2 vertices")


def test_target_vertex_count_mismatch(symbreak):
    obj = demo()[0]
    activate(obj)
    obj.symbreak.target_mode = 'OBJECT'
    obj.symbreak.target_object = bpy.data.objects["Cube"]
    expect_cancelled(bpy.ops.symbreak.train, "8 vertices")


def test_missing_target_shape_key(symbreak):
    activate(bpy.data.objects["Cube"])
    expect_cancelled(bpy.ops.symbreak.train, "no shape key")


def test_nan_coordinates(symbreak):
    obj = demo()[0]
    activate(obj)
    co = np.zeros(12, dtype=np.float32)
    obj.data.vertices.foreach_get("co", co)
    co[4] = np.nan
    obj.data.vertices.foreach_set("co", co)
    expect_cancelled(bpy.ops.symbreak.train, "NaN")


def test_nan_target(symbreak):
    from symbreak.addon import mesh

    obj = demo()[0]
    activate(obj)
    target = mesh.shape_key_positions(obj, "Target")
    target[0, 0] = np.nan
    mesh.set_shape_key(obj, "Target", target)
    expect_cancelled(bpy.ops.symbreak.train, "NaN")


def test_predict_and_animate_need_training(symbreak):
    obj = demo()[0]
    activate(obj)
    expect_cancelled(bpy.ops.symbreak.predict, "no trained model")
    expect_cancelled(bpy.ops.symbreak.show_signals, "Train or Predict first")
    expect_cancelled(bpy.ops.symbreak.animate, "Train or Predict first")


def test_render_needs_content_and_a_path(symbreak, tmp_path):
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    expect_cancelled(bpy.ops.symbreak.render_video, "save the file first")
    expect_cancelled(bpy.ops.symbreak.render_video, "Nothing to render", filepath=str(tmp_path / "none.mp4"))
    assert not (tmp_path / "none.mp4").exists()


def test_vector_output_and_vertex_group_features(symbreak):
    from symbreak.addon import storage

    obj = demo()[1]
    activate(obj)
    group = obj.vertex_groups.new(name="break")
    group.add([0, 2], 1.0, 'REPLACE')
    obj.symbreak.breaking, obj.symbreak.vertex_group = 'VERTEX_GROUP', "break"
    bpy.context.scene.symbreak.training.output = 'vector'
    assert bpy.ops.symbreak.train() == {'FINISHED'}
    assert bpy.ops.symbreak.predict() == {'FINISHED'}
    assert bpy.ops.symbreak.show_signals() == {'FINISHED'}
    assert json.loads(obj[storage.CONFIG])["output"] == 'vector'
    obj.symbreak.breaking = 'NONE'  # the model was trained with other inputs
    expect_cancelled(bpy.ops.symbreak.predict, "features changed")


def test_degenerate_transform(symbreak):
    """A scale of 0 on an axis: reported, and nothing changes (the old signals stay)."""
    obj = trained("Task 1")
    assert bpy.ops.symbreak.show_signals() == {'FINISHED'}
    obj.scale.y = 0.0
    bpy.context.view_layer.update()
    for op in ("train", "predict", "show_signals", "animate", "analyze_symmetry"):
        expect_cancelled(getattr(bpy.ops.symbreak, op), "degenerate transform")


def test_all_pairs_refuse_large_meshes_before_starting(symbreak):
    from symbreak.addon import mesh

    xy = np.stack(np.meshgrid(np.arange(11.0), np.arange(11.0)), axis=-1).reshape(-1, 2)
    points = np.c_[xy, np.zeros(len(xy))]
    obj = bpy.data.objects.new("Grid", mesh.new_mesh("Grid", points))
    bpy.context.scene.collection.objects.link(obj)
    mesh.set_shape_key(obj, "Target", 1.1 * points)
    bpy.context.scene.symbreak.training.graph = 'ALL_PAIRS'
    activate(obj)
    expect_cancelled(bpy.ops.symbreak.train, "121 points .* set a graph radius")
    expect_cancelled(bpy.ops.symbreak.learn_order_parameter, "121 points .* set a graph radius")


def test_show_signals_caps_the_surface_vertices(symbreak):
    """200 surfaces at Resolution 6 (40,962 vertices each) are too many; 5 (10,242) fit."""
    from symbreak.addon import mesh, storage

    points = np.random.default_rng(0).normal(size=(200, 3))
    obj = bpy.data.objects.new("Cloud", mesh.new_mesh("Cloud", points))
    bpy.context.scene.collection.objects.link(obj)
    storage.store_prediction(obj, storage.StoredPrediction(
        indices=np.arange(200), start=points, displacements=np.zeros((200, 3)), signals=np.ones((200, 4)),
        ambiguous=np.zeros(200, dtype=bool), peaks=[np.zeros((1, 3))] * 200, vertex_count=200,
        fingerprint=mesh.fingerprint(mesh.positions(obj.data))))
    activate(obj)
    bpy.context.scene.symbreak.display.signal_level = 6
    expect_cancelled(bpy.ops.symbreak.show_signals, "8,192,400 vertices .* lower the signal Resolution to 5")


def test_default_graph_takes_a_radius_from_the_mesh(symbreak):
    """Above 100 vertices the default graph is a radius graph with a radius chosen from the mesh
    (all pairs would be refused); the report names it and the stored model keeps it."""
    from symbreak.addon import mesh, storage
    from symbreak.engine import api

    xy = np.stack(np.meshgrid(np.arange(11.0), np.arange(11.0)), axis=-1).reshape(-1, 2) * 0.1
    points = np.c_[xy, np.zeros(len(xy))]
    grid = bpy.data.objects.new("Grid", mesh.new_mesh("Grid", points))
    bpy.context.scene.collection.objects.link(grid)
    mesh.set_shape_key(grid, "Target", points * [1.0, 1.2, 1.0])
    bpy.context.scene.symbreak.training.iterations = 2
    assert bpy.context.scene.symbreak.training.graph == 'AUTO'
    activate(grid)
    assert bpy.ops.symbreak.train() == {'FINISHED'}
    radius = api.model_summary(storage.model_bytes(grid))["config"]["radius"]
    assert radius == pytest.approx(api.suggest_radius(points, for_training=True))
    assert 0.1 <= radius < 0.5  # the grid's spacing is 0.1, its size 1.4


# --- what a training run tells: its fit, its expected time; ghosts only up to a cap ----------------

def test_train_names_how_many_vertices_have_no_neighbour(symbreak, capfd):
    """The radius chosen from the mesh may leave a far vertex alone: Train says so, in the
    singular, and that it sees the rest through the hub."""
    from symbreak.addon import mesh

    xy = np.stack(np.meshgrid(np.arange(11.0), np.arange(11.0)), axis=-1).reshape(-1, 2) * 0.1
    points = np.vstack([np.c_[xy, np.zeros(len(xy))], [[5.0, 5.0, 0.0]]])
    grid = bpy.data.objects.new("Grid", mesh.new_mesh("Grid", points))
    bpy.context.scene.collection.objects.link(grid)
    mesh.set_shape_key(grid, "Target", points * [1.0, 1.2, 1.0])
    bpy.context.scene.symbreak.training.iterations = 2
    activate(grid)
    capfd.readouterr()
    assert bpy.ops.symbreak.train() == {'FINISHED'}
    out = capfd.readouterr().out
    assert "1 vertex has no neighbour within the graph radius" in out and "only through the hub" in out, out


def test_train_reports_stores_and_draws_the_fit_and_an_estimate(symbreak, capfd):
    """The report gives the fit (errors over the largest displacement) and the time expected from
    the first steps, within 10x of the real time; the fit is stored and drawn with the loss."""
    import re

    from symbreak.addon import panel, storage
    from helpers import draw

    bpy.context.scene.symbreak.training.iterations = 60
    capfd.readouterr()
    obj = trained("Task 2")
    out = capfd.readouterr().out
    fit = storage.fit(obj)
    p = storage.prediction(obj)
    target = storage.target(obj)
    errors = np.linalg.norm(p.predicted - target, axis=1)
    largest = np.linalg.norm(target - p.start, axis=1).max()
    assert fit.max_error == pytest.approx(errors.max() / largest, rel=1e-5)
    assert fit.within == pytest.approx(np.mean(errors <= 0.05 * largest))
    assert fit.summary() in out
    found = re.search(r"60 steps in ([\d.]+) s \(about ([\d.e+-]+) s expected\)", out)
    assert found, out
    took, expected = float(found[1]), float(found[2])
    assert took / 10 <= expected <= 10 * took + 0.05
    drawn = draw(panel.SYMBREAK_PT_training)
    assert any(f"max error {100 * fit.max_error:.3g} %" in text for text in drawn)
    assert any("% of vertices within 5 % of their target" in text for text in drawn)


def test_step_clock_extrapolates_the_cost_of_a_step():
    """Step 0 (with its set-up) is left out; the steps after it set the cost of those to come."""
    from symbreak.addon.operators.training import StepClock, duration

    clock = StepClock(100)
    for step in range(StepClock.MEASURED + 1):
        assert clock.expected is None
        clock.step(step)
    assert clock.left is not None and clock.expected is not None and clock.expected >= clock.left >= 0
    assert duration(42.0) == "about 42 s" and duration(600.0) == "about 10 min"


def test_animate_caps_the_ghosts_and_says_so(symbreak, monkeypatch, capfd):
    from symbreak.addon import storage
    from symbreak.addon.build import animation

    monkeypatch.setattr(animation, "MAX_GHOSTS", 3)
    obj = trained("Task 2")
    p = storage.prediction(obj)
    count = sum(len(k) for k, a in zip(p.peaks, p.ambiguous) if a)
    assert count > 3
    capfd.readouterr()
    assert bpy.ops.symbreak.animate() == {'FINISHED'}
    ghosts = next(c for c in obj.children if c.symbreak.role == 'GHOSTS')
    assert len(ghosts.data.vertices) == 3
    assert f"{count - 3:,} more ghosts for tied peaks were left out (at most 3 are drawn)" in capfd.readouterr().out


def test_signal_faces_take_the_material_of_their_sign(symbreak):
    """Faces whose mean signal is negative use the second material (blue), the others the first."""
    obj = trained("Task 1")
    assert bpy.ops.symbreak.show_signals() == {'FINISHED'}
    data = bpy.data.objects[f"{obj.name} Signals"].data
    values = np.zeros(len(data.vertices), dtype=np.float32)
    data.attributes["signal"].data.foreach_get("value", values)
    corners = np.zeros(len(data.polygons) * 3, dtype=np.int32)
    data.polygons.foreach_get("vertices", corners)
    slots = np.zeros(len(data.polygons), dtype=np.int32)
    data.polygons.foreach_get("material_index", slots)
    negative = values[corners.reshape(-1, 3)].mean(axis=1) < 0
    assert negative.any() and (~negative).any()
    np.testing.assert_array_equal(slots, negative.astype(np.int32))
    assert [m.name for m in data.materials][1].startswith("SymBreak Signal")
