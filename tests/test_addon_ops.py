"""The add-on's operators in real Blender (bpy 5.0, headless), checked on the data they make."""

import json
import time

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

ITERATIONS = 20


@pytest.fixture(autouse=True)
def fast_training(symbreak):
    t = bpy.context.scene.symbreak.training
    t.iterations = ITERATIONS
    yield symbreak


def activate(obj):
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    if obj is not None:
        obj.select_set(True)
    bpy.context.view_layer.objects.active = obj


def select_vertices(obj, flags):
    """Object-mode selection that survives entering Edit Mode (edges and faces too)."""
    data = obj.data
    data.vertices.foreach_set("select", np.asarray(flags, dtype=bool))
    edges = np.empty(len(data.edges) * 2, dtype=np.int32)
    data.edges.foreach_get("vertices", edges)
    data.edges.foreach_set("select", np.asarray(flags, dtype=bool)[edges.reshape(-1, 2)].all(axis=1))
    data.polygons.foreach_set("select", np.zeros(len(data.polygons), dtype=bool))


def demo():
    assert bpy.ops.symbreak.add_seed_demo() == {'FINISHED'}
    return [bpy.data.objects[f"Task {i}"] for i in (1, 2, 3)]


def trained(name="Task 1"):
    demo()
    obj = bpy.data.objects[name]
    activate(obj)
    assert bpy.ops.symbreak.train() == {'FINISHED'}
    return obj


def evaluated(obj, frame, world=False):
    """Local (or world) vertex positions after shape keys at ``frame``, without the display modifier."""
    from symbreak.addon import mesh

    for modifier in obj.modifiers:
        modifier.show_viewport = False
    bpy.context.scene.frame_set(frame)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    evaluated_obj = obj.evaluated_get(depsgraph)
    out = mesh.positions(evaluated_obj.to_mesh())
    evaluated_obj.to_mesh_clear()
    for modifier in obj.modifiers:
        modifier.show_viewport = True
    return mesh.to_world(evaluated_obj, out) if world else out


def snapshot():
    """Everything an operator could change by mistake."""
    from symbreak.addon import mesh

    objects = {}
    for obj in bpy.data.objects:
        keys = sorted(k for k in obj.keys() if k.startswith("symbreak"))
        data = None
        if obj.type == 'MESH':
            data = (mesh.positions(obj.data).round(6).tobytes(), tuple(mesh.shape_key_names(obj)),
                    obj.data.shape_keys is not None and obj.data.shape_keys.animation_data is not None)
        objects[obj.name] = (keys, data, tuple(c.name for c in obj.children), obj.mode)
    collections = {k: len(getattr(bpy.data, k)) for k in
                   ("objects", "meshes", "materials", "collections", "node_groups", "actions", "images")}
    scene = bpy.context.scene
    return objects, collections, (scene.frame_start, scene.frame_end, scene.render.filepath)


# --- each operator on data ------------------------------------------------------------------------

def test_add_seed_demo_builds_three_tasks(symbreak):
    from symbreak.engine import TASKS
    from symbreak.addon import mesh

    objects = demo()
    for obj, task in zip(objects, ('rectangle-to-square', 'square-to-rectangle', 'square-to-rectangle-broken')):
        assert obj.symbreak.task == task
        np.testing.assert_allclose(mesh.positions(obj.data), TASKS[task].start, atol=1e-6)
        np.testing.assert_allclose(mesh.shape_key_positions(obj, "Target"), TASKS[task].target, atol=1e-6)
        collection = obj.users_collection[0]
        assert collection.name.startswith(f"{obj.name}:")
        assert any(o.type == 'FONT' for o in collection.objects)
        assert obj.data.shape_keys.key_blocks["Target"].value == 0.0
    assert objects[2].symbreak.breaking == 'L2'
    assert bpy.context.active_object == objects[0]


def test_train_stores_model_and_loss_on_object(symbreak):
    from symbreak.addon import state

    obj = trained("Task 3")
    losses = state.loss_history(obj)
    assert losses.shape == (ITERATIONS,) and np.isfinite(losses).all()
    assert state.has_model(obj) and state.has_prediction(obj)
    assert isinstance(obj[state.MODEL], str)  # base64 text, nothing pickled
    assert obj.symbreak.final_loss == pytest.approx(losses[-1])
    p = state.prediction(obj)
    assert p.signals.shape == (4, 36) and p.start.shape == (4, 3)
    assert state.sparkline(losses)


def test_train_uses_edit_mode_selection(symbreak):
    from symbreak.addon import state

    obj = demo()[0]
    activate(obj)
    select_vertices(obj, [True, True, False, False])
    bpy.ops.object.mode_set(mode='EDIT')
    try:
        assert bpy.ops.symbreak.train() == {'FINISHED'}
    finally:
        bpy.ops.object.mode_set(mode='OBJECT')
    assert state.prediction(obj).indices.tolist() == [0, 1]


def test_predict_reuses_model_and_is_equivariant(symbreak):
    from mathutils import Matrix

    from symbreak.addon import state

    obj = trained("Task 1")
    before = state.prediction(obj)
    losses = state.loss_history(obj).copy()
    assert bpy.ops.symbreak.predict() == {'FINISHED'}
    again = state.prediction(obj)
    np.testing.assert_allclose(again.signals, before.signals, atol=1e-6)
    np.testing.assert_array_equal(state.loss_history(obj), losses)  # not retrained
    obj.rotation_euler = (0.3, 0.0, 1.0)  # moving the object changes nothing in its own frame
    obj.location.x += 5.0
    bpy.context.view_layer.update()
    assert bpy.ops.symbreak.predict() == {'FINISHED'}
    np.testing.assert_allclose(state.prediction(obj).signals, before.signals, atol=1e-6)
    obj.data.transform(Matrix.Rotation(np.pi / 2, 4, 'Z'))  # rotate the vertices: every peak rotates with them
    assert bpy.ops.symbreak.predict() == {'FINISHED'}
    rotated = state.prediction(obj)
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
    from symbreak.addon import state

    obj = trained("Task 3")
    bpy.ops.symbreak.show_signals()
    d = bpy.context.scene.symbreak.display
    d.frame_start, d.frame_end = 5, 25
    assert bpy.ops.symbreak.animate() == {'FINISHED'}
    p = state.prediction(obj)
    fcurves = [fc for fc in _fcurves(obj.data.shape_keys)]
    assert len(fcurves) == 1 and [k.co[0] for k in fcurves[0].keyframe_points] == [5.0, 25.0]
    assert fcurves[0].keyframe_points[0].easing == 'EASE_IN_OUT'
    np.testing.assert_allclose(evaluated(obj, 1), p.start, atol=1e-5)
    expected = np.where(p.ambiguous[:, None], p.start, p.predicted)
    np.testing.assert_allclose(evaluated(obj, 25), expected, atol=1e-5)
    middle = evaluated(obj, 15)
    assert not np.allclose(middle, p.start) and not np.allclose(middle, expected)
    signals = next(c for c in obj.children if c.symbreak.role == 'SIGNALS')
    assert signals.data.shape_keys is not None  # surfaces follow


def test_animate_sends_ghosts_to_tied_peaks(symbreak):
    from symbreak.addon import state

    obj = trained("Task 2")
    p = state.prediction(obj)
    assert bpy.ops.symbreak.animate() == {'FINISHED'}
    ghosts = next((c for c in obj.children if c.symbreak.role == 'GHOSTS'), None)
    count = sum(len(k) for k, a in zip(p.peaks, p.ambiguous) if a)
    if not p.ambiguous.any():
        pytest.skip("this short training left no ties")
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
    from symbreak.addon import mesh, state

    obj = trained("Task 1")
    bpy.ops.symbreak.show_signals()
    obj.location.x += 5.0
    obj.rotation_euler = (0.4, -0.2, 1.1)
    obj.scale = (1.0, 2.0, 0.5)
    bpy.context.view_layer.update()
    assert bpy.ops.symbreak.animate() == {'FINISHED'}
    p = state.prediction(obj)
    expected = np.where(p.ambiguous[:, None], p.start, p.predicted)
    end = bpy.context.scene.symbreak.display.frame_end
    np.testing.assert_allclose(evaluated(obj, end, world=True), mesh.to_world(obj, expected), atol=1e-5)
    for role in ('SIGNALS', 'TARGET'):
        shown = next(c for c in obj.children if c.symbreak.role == role)
        np.testing.assert_allclose(np.array(shown.matrix_world), np.array(obj.matrix_world), atol=1e-6)
    target = next(c for c in obj.children if c.symbreak.role == 'TARGET')
    np.testing.assert_allclose(mesh.positions(target.data), state.target(obj), atol=1e-6)


def test_rotated_task_3_breaks_symmetry_along_its_own_axes(symbreak, capfd):
    """x² − y² and the target are in the object's axes, so a rotated Task 3 is still learnable."""
    from symbreak.addon import state

    demo()
    obj = bpy.data.objects["Task 3"]
    obj.rotation_euler.z = np.pi / 4
    activate(obj)
    bpy.context.scene.symbreak.training.iterations = 200
    capfd.readouterr()
    assert bpy.ops.symbreak.train() == {'FINISHED'}
    assert "Warning" not in capfd.readouterr().out and state.symmetry(obj)["warning"] == ""
    p = state.prediction(obj)
    assert np.linalg.norm(p.predicted - state.target(obj), axis=1).max() < 0.05 and not p.ambiguous.any()


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


def _fcurves(id_data):
    from symbreak.addon.build.keys import fcurves

    return fcurves(id_data)


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
    from symbreak.addon import worker
    from symbreak.engine import TASKS, TrainingCancelled, train

    task = TASKS['rectangle-to-square']
    job = worker.Job(train, 100000, "training", start=task.start, target=task.target, iterations=100000)
    job.start()
    deadline = time.perf_counter() + 30
    while job.iteration < 2 and time.perf_counter() < deadline:
        time.sleep(0.01)
    t0 = time.perf_counter()
    job.cancel()
    assert job.wait(0.5), "training did not stop within 0.5 s"
    assert time.perf_counter() - t0 < 0.5
    assert isinstance(job.error, TrainingCancelled)


def test_prediction_job_matches_the_synchronous_call(symbreak):
    import torch

    from symbreak.addon import ops, worker
    from symbreak.engine import TASKS, Features, predict, train

    task = TASKS['rectangle-to-square']
    model = train(task.start, task.target, iterations=5).model
    job = worker.Job(ops._predict, 1, "predicting", model=model, positions=task.start,
                     features=Features.scalar(4), dtype=torch.float64).start()
    assert job.wait(30) and job.error is None
    np.testing.assert_allclose(job.result.signals, predict(model, task.start).signals, atol=1e-12)


def test_predict_runs_in_float32_above_a_few_thousand_points(symbreak, monkeypatch):
    """A model trained with a radius graph, run on a 65 × 65 grid."""
    import symbreak.engine
    from symbreak.addon import mesh, ops, state

    bpy.context.scene.symbreak.training.use_radius_graph = True
    source = trained("Task 1")
    xy = np.stack(np.meshgrid(np.arange(65.0), np.arange(65.0)), axis=-1).reshape(-1, 2)
    grid = bpy.data.objects.new("Grid", mesh.new_mesh("Grid", np.c_[xy, np.zeros(len(xy))]))
    bpy.context.scene.collection.objects.link(grid)
    grid[state.MODEL] = source[state.MODEL]
    activate(grid)
    dtypes = []
    original = symbreak.engine.predict

    def recorded(model, positions, features=None, *, dtype="float64"):
        dtypes.append(dtype)
        return original(model, positions, features, dtype=dtype)

    monkeypatch.setattr(symbreak.engine, "predict", recorded)
    assert len(xy) > ops.FLOAT32_ABOVE
    assert bpy.ops.symbreak.predict() == {'FINISHED'}
    activate(source)
    assert bpy.ops.symbreak.predict() == {'FINISHED'}
    assert dtypes == ["float32", "float64"]
    assert len(state.prediction(grid).indices) == len(xy)


def test_train_stores_the_settings_it_started_with(symbreak, monkeypatch):
    """Settings changed while training runs are not what the model was trained with."""
    import symbreak.engine
    from symbreak.addon import state

    original = symbreak.engine.train
    t = bpy.context.scene.symbreak.training

    def meanwhile(**kwargs):
        t.lmax, t.seed, t.iterations = 2, 7, 3
        return original(**kwargs)

    monkeypatch.setattr(symbreak.engine, "train", meanwhile)
    obj = trained("Task 1")
    stored = json.loads(obj[state.CONFIG])
    assert (stored["lmax"], stored["seed"], stored["iterations"]) == (5, 0, ITERATIONS)
    assert len(state.loss_history(obj)) == ITERATIONS


# --- save, reopen, render without the add-on -------------------------------------------------------

def test_save_reopen_keeps_model_and_animation(symbreak, tmp_path):
    from symbreak.addon import state

    obj = trained("Task 1")
    bpy.ops.symbreak.show_signals()
    bpy.ops.symbreak.animate()
    p = state.prediction(obj)
    losses = state.loss_history(obj)
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
    np.testing.assert_array_equal(state.loss_history(obj), losses)
    assert json.loads(obj[state.CONFIG])["iterations"] == ITERATIONS
    activate(obj)
    obj.keys()
    del obj[state.PREDICTION]
    assert bpy.ops.symbreak.predict() == {'FINISHED'}
    np.testing.assert_allclose(state.prediction(obj).signals, p.signals, atol=1e-6)


# --- bad input: CANCELLED with a report, scene unchanged ---------------------------------------------

def expect_cancelled(op, match, **kwargs):
    before = snapshot()
    with pytest.raises(RuntimeError, match=match):  # bpy turns an ERROR report into RuntimeError
        op(**kwargs)
    assert snapshot() == before


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
    from symbreak.addon import state

    obj = demo()[1]
    activate(obj)
    group = obj.vertex_groups.new(name="break")
    group.add([0, 2], 1.0, 'REPLACE')
    obj.symbreak.breaking, obj.symbreak.vertex_group = 'VERTEX_GROUP', "break"
    bpy.context.scene.symbreak.training.output = 'vector'
    assert bpy.ops.symbreak.train() == {'FINISHED'}
    assert bpy.ops.symbreak.predict() == {'FINISHED'}
    assert bpy.ops.symbreak.show_signals() == {'FINISHED'}
    assert json.loads(obj[state.CONFIG])["output"] == 'vector'
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
    activate(obj)
    expect_cancelled(bpy.ops.symbreak.train, "121 points .* set a graph radius")
    expect_cancelled(bpy.ops.symbreak.learn_order_parameter, "121 points .* set a graph radius")


def test_show_signals_caps_the_surface_vertices(symbreak):
    """200 surfaces at Resolution 6 (40,962 vertices each) are too many; 5 (10,242) fit."""
    from symbreak.addon import mesh, state

    points = np.random.default_rng(0).normal(size=(200, 3))
    obj = bpy.data.objects.new("Cloud", mesh.new_mesh("Cloud", points))
    bpy.context.scene.collection.objects.link(obj)
    state.store_prediction(obj, state.StoredPrediction(
        indices=np.arange(200), start=points, displacements=np.zeros((200, 3)), signals=np.ones((200, 4)),
        ambiguous=np.zeros(200, dtype=bool), peaks=[np.zeros((1, 3))] * 200))
    activate(obj)
    bpy.context.scene.symbreak.display.signal_level = 6
    expect_cancelled(bpy.ops.symbreak.show_signals, "8,192,400 vertices .* lower the signal Resolution to 5")
