"""Reliability of the add-on (bpy 5.0, headless): stored arrays of any size written over any
other, linked library objects refused, stale predictions refused, nothing non-finite written,
damaged stored state refused with one sentence and drawn without raising, bounded settings."""

import json

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from helpers import activate, demo, draw, expect_cancelled, train_selected, trained  # noqa: E402

ITERATIONS = 10

WRITING_OPERATORS = ["train", "predict", "analyze_symmetry", "learn_order_parameter", "use_order_parameter",
                     "show_order_parameter", "show_signals", "animate"]


# --- 0: every stored array, grown and shrunk --------------------------------------------------------

def test_retraining_grows_and_shrinks_the_loss_history_and_target(symbreak):
    """Train 10 steps, then 60, then 3; train 4 vertices, then 2: every stored array has the new size."""
    from symbreak.addon import storage

    obj = trained("Task 1")
    for steps in (60, 3):
        bpy.context.scene.symbreak.training.iterations = steps
        assert bpy.ops.symbreak.train() == {'FINISHED'}
        assert storage.loss_history(obj).shape == (steps,) and np.isfinite(storage.loss_history(obj)).all()
    train_selected(obj, [True, False, True, False])
    assert storage.target(obj).shape == (2, 3)
    p = storage.prediction(obj)
    assert p.indices.tolist() == [0, 2] and p.signals.shape == (2, 36) and len(p.peaks) == 2


def _prediction(n, dim, peaks, mesh, obj):
    from symbreak.addon import storage

    rng = np.random.default_rng(n)
    return storage.StoredPrediction(
        indices=np.arange(n), start=rng.normal(size=(n, 3)), displacements=rng.normal(size=(n, 3)),
        signals=rng.normal(size=(n, dim)), ambiguous=rng.random(n) < 0.5,
        peaks=[rng.normal(size=(peaks, 3)) for _ in range(n)], vertex_count=n,
        fingerprint=mesh.fingerprint(mesh.positions(obj.data)))


@pytest.mark.parametrize("sizes", [(3, 300, 3), (300, 3, 300)])
def test_every_stored_array_grows_and_shrinks(symbreak, sizes):
    """Each store writes over an older value of another size; reads are copies that outlive it."""
    from symbreak.addon import mesh, storage
    from symbreak.engine import api

    obj = bpy.data.objects["Cube"]
    kept = None
    for n in sizes:
        losses = np.linspace(1.0, 2.0, n)
        storage.store_model(obj, bytes(n), losses, {"iterations": n})
        storage.store_target(obj, np.full((n, 3), float(n)))
        p = _prediction(n, 4 if n < 10 else 9, 1 if n < 10 else 3, mesh, obj)
        storage.store_prediction(obj, p)
        blocks = {l: np.full(2 * l + 1, 1.0 / n) for l in range(1, 3 if n < 10 else 6)}
        storage.store_order_parameter(obj, api.OrderParameter(blocks, 'group theory', f"{n}"))
        storage.store_learned_order_parameter(obj, api.OrderParameter(blocks, 'learned', f"{n}"))
        if kept is None:
            kept = storage.loss_history(obj), storage.target(obj)
        np.testing.assert_array_equal(storage.loss_history(obj), losses)
        assert storage.model_bytes(obj) == bytes(n) and storage.config(obj) == {"iterations": n}
        np.testing.assert_array_equal(storage.target(obj), np.full((n, 3), float(n)))
        again = storage.prediction(obj)
        for name in ("indices", "start", "displacements", "signals", "ambiguous"):
            np.testing.assert_array_equal(getattr(again, name), getattr(p, name))
        for mine, theirs in zip(again.peaks, p.peaks):
            np.testing.assert_array_equal(mine, theirs)
        for read in (storage.order_parameter, storage.learned_order_parameter):
            assert read(obj).to_dict()["blocks"] == {str(l): c.tolist() for l, c in blocks.items()}
    losses, target = kept  # read before two overwrites: copies, not views of the replaced properties
    np.testing.assert_array_equal(losses, np.linspace(1.0, 2.0, sizes[0]))
    np.testing.assert_array_equal(target, np.full((sizes[0], 3), float(sizes[0])))


# --- 4: linked library data --------------------------------------------------------------------------

def test_linked_objects_are_refused_by_every_writing_operator(symbreak, tmp_path):
    """A trained object linked from another .blend: every operator that writes to it refuses, so
    nothing is lost on save."""
    obj = trained("Task 1")
    assert bpy.ops.symbreak.analyze_symmetry() == {'FINISHED'}
    path = tmp_path / "library.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(app_template="")
    with bpy.data.libraries.load(str(path), link=True) as (source, linked):
        linked.objects = ["Task 1"]
    obj = linked.objects[0]
    bpy.context.scene.collection.objects.link(obj)
    assert obj.library is not None and not obj.is_editable
    activate(obj)
    for op in WRITING_OPERATORS:
        expect_cancelled(getattr(bpy.ops.symbreak, op), "linked .* cannot be changed")


# --- 6: a prediction is applied only to the mesh it was made on ----------------------------------------

def _replace_vertex(obj):
    """Delete vertex 0 and add one elsewhere: the same count, other vertices."""
    import bmesh

    bm = bmesh.new()
    bm.from_mesh(obj.data)
    bm.verts.ensure_lookup_table()
    bm.verts.remove(bm.verts[0])
    bm.verts.new((3.0, 3.0, 0.0))
    bm.to_mesh(obj.data)
    bm.free()


@pytest.mark.parametrize("change", ["replace a vertex", "move vertices", "add a vertex"])
def test_stale_predictions_are_refused(symbreak, change):
    from symbreak.addon import mesh

    obj = trained("Task 1")
    if change == "replace a vertex":
        _replace_vertex(obj)
        assert len(obj.data.vertices) == 4
    elif change == "move vertices":
        co = mesh.positions(obj.data)
        co[1] += 0.01
        obj.data.vertices.foreach_set("co", co.astype(np.float32).ravel())
    else:
        obj.data.vertices.add(1)
    obj.data.update()
    for op in ("animate", "show_signals"):
        expect_cancelled(getattr(bpy.ops.symbreak, op), "Predict again")
    assert bpy.ops.symbreak.predict() == {'FINISHED'}
    assert bpy.ops.symbreak.animate() == {'FINISHED'}


# --- 7: nothing non-finite is written into Blender data ------------------------------------------------

def test_non_finite_predictions_never_reach_the_scene(symbreak, monkeypatch):
    from symbreak.addon import storage
    from symbreak.engine import api

    obj = trained("Task 1")
    original = api.predict

    def broken(model, positions, **kwargs):
        p = original(model, positions, **kwargs)
        return api.Prediction(np.full_like(p.signals, np.nan), p.displacements, p.predicted, p.ambiguous, p.peaks)

    monkeypatch.setattr(api, "predict", broken)
    expect_cancelled(bpy.ops.symbreak.predict, "unusable .* NaN")
    bad = broken(storage.model_bytes(obj), storage.prediction(obj).start)
    nothing = api.Fit(1.0, 0.0, 0.0, 1.0)
    monkeypatch.setattr(api, "train", lambda *args, **kwargs: api.TrainResult(bad, b"", np.ones(3), 0.0, 0.0, nothing))
    expect_cancelled(bpy.ops.symbreak.train, "unusable .* NaN")
    displacements = obj[storage.PREDICTION]["displacements"].to_list()
    displacements[0] = float("nan")  # an edited .blend
    obj[storage.PREDICTION]["displacements"] = displacements
    for op in ("animate", "show_signals"):
        expect_cancelled(getattr(bpy.ops.symbreak, op), "damaged stored prediction .* NaN")


# --- 8: damaged stored state: one sentence, panels that draw, operators that refuse -------------------

DAMAGE = {
    "symbreak_model": ["not base64 !", 7],
    "symbreak_loss": ["text", [1.0, float("nan")], {"a": 1}],
    "symbreak_config": ["{", "[1, 2]", 3],
    "symbreak_target": [[1.0, 2.0], "text"],
    "symbreak_prediction": [{"indices": [0, 1]}, {"indices": "ab", "start": 3}, "text", [1, 2, 3]],
    "symbreak_symmetry": ["{", json.dumps({"start_group": 4}), "[]", 5],
    "symbreak_order_parameter": ["{", json.dumps({"blocks": {"2": [1.0]}}), 1.5],
    "symbreak_learned_order_parameter": [json.dumps({"blocks": {"x": [1.0]}}), [1.0]],
    "symbreak_fit": ["{", json.dumps({"max_error": "x"}), json.dumps([1, 2]), 3],
}


def test_every_stored_key_is_damaged_below(symbreak):
    from symbreak.addon import storage

    assert set(DAMAGE) == set(storage.KEYS)


def _panels():
    from symbreak.addon import panel

    return panel.CLASSES


@pytest.mark.parametrize("key", list(DAMAGE))
def test_damaged_stored_state_is_refused_and_drawn(symbreak, monkeypatch, key):
    """Each stored key damaged in several ways: every panel draws, every operator either works
    or reports one sentence (no traceback)."""
    from symbreak.addon.operators import symmetry

    monkeypatch.setattr(symmetry, "LEARNING_ITERATIONS", 5)
    obj = trained("Task 2")
    assert bpy.ops.symbreak.analyze_symmetry() == {'FINISHED'}
    assert bpy.ops.symbreak.learn_order_parameter() == {'FINISHED'}
    for value in DAMAGE[key]:
        obj[key] = value
        for breaking in ('ORDER_PARAMETER', 'LEARNED'):
            obj.symbreak.breaking = breaking
            for panel in _panels():
                draw(panel)
        for op in WRITING_OPERATORS:
            obj[key] = value
            try:
                getattr(bpy.ops.symbreak, op)()
            except RuntimeError as error:
                assert "Traceback" not in str(error) and str(error).count("\n") <= 1, str(error)
            activate(obj)


def test_use_order_parameter_changes_nothing_when_it_cannot_finish(symbreak):
    from symbreak.addon import storage

    obj = demo()[1]
    activate(obj)
    assert bpy.ops.symbreak.analyze_symmetry() == {'FINISHED'}
    record = json.loads(obj[storage.SYMMETRY])
    record["order_parameter"]["blocks"] = {"2": [1.0, 2.0]}  # the wrong length for L=2
    obj[storage.SYMMETRY] = json.dumps(record)
    expect_cancelled(bpy.ops.symbreak.use_order_parameter, "damaged stored symmetry analysis")


# --- 11: settings: finite numbers, hard maxima; registration twice --------------------------------------

@pytest.mark.parametrize("op, group, name, shown", [
    ("train", "training", "learning_rate", "Learning Rate"),
    ("learn_order_parameter", "training", "learning_rate", "Learning Rate"),
    ("show_signals", "display", "signal_scale", "Signal Scale"),
    ("animate", "display", "point_radius", "Point Radius"),
])
def test_non_finite_settings_are_refused(symbreak, op, group, name, shown):
    trained("Task 1")
    setattr(getattr(bpy.context.scene.symbreak, group), name, float("nan"))
    expect_cancelled(getattr(bpy.ops.symbreak, op), f"{shown} is nan: set it to a finite number")


def test_non_finite_duration_is_refused_before_anything_changes(symbreak, tmp_path):
    demo()
    bpy.context.scene.symbreak.render.duration = float("nan")
    expect_cancelled(bpy.ops.symbreak.render_video, "Duration is nan", filepath=str(tmp_path / "v.mp4"))


def test_iterations_and_frames_have_hard_maxima(symbreak):
    from symbreak.addon import props

    s = bpy.context.scene.symbreak
    s.training.iterations = 10 ** 9
    s.display.frame_start, s.display.frame_end = 10 ** 9, 10 ** 9
    assert s.training.iterations == props.MAX_ITERATIONS
    assert (s.display.frame_start, s.display.frame_end) == (props.MAX_FRAME - 1, props.MAX_FRAME)


def test_register_and_unregister_twice(symbreak):
    symbreak.register()  # already registered
    symbreak.unregister()
    symbreak.unregister()
    assert not hasattr(bpy.types.Scene, "symbreak")
    symbreak.register()
    symbreak.register()
    assert bpy.ops.symbreak.add_seed_demo() == {'FINISHED'}


# --- Blender's internal mesh attributes ------------------------------------------------------------------

def test_internal_mesh_attributes_are_there_and_agree_with_the_public_api(symbreak):
    """Fails loudly when Blender renames or retypes the connectivity attributes the builders write."""
    from symbreak.addon import mesh

    quads = np.array([[0, 1, 2, 3]])
    data = mesh.new_mesh("Quad", np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float), faces=quads)
    for name in mesh.INTERNAL_ATTRIBUTES:
        assert mesh.internal_attribute(data, name) is not None, f"{name} changed in this Blender"
    corners = np.empty(len(data.loops), dtype=np.int32)
    data.loops.foreach_get("vertex_index", corners)
    np.testing.assert_array_equal(corners, quads.ravel())
    tiled = mesh.new_tiled_mesh("Tiled", np.zeros((2, 4, 3)) + np.arange(4)[:, None], quads)
    edges = np.empty(len(tiled.edges) * 2, dtype=np.int32)
    tiled.edges.foreach_get("vertices", edges)
    assert len(tiled.edges) == 8 and sorted(map(tuple, np.sort(edges.reshape(-1, 2))))[:4] == [
        (0, 1), (0, 3), (1, 2), (2, 3)]
    assert not tiled.validate()


@pytest.mark.parametrize("how", ["renamed motion key", "target previewed"])
def test_animate_refuses_other_keys_that_deform_the_mesh(symbreak, how):
    """A renamed motion key (keyed 0 → 1) or a target key left at 1.0 would add its motion to the
    new one: Animate names it and changes nothing."""
    from symbreak.addon.build import animation

    obj = trained("Task 1")
    keys = obj.data.shape_keys
    if how == "renamed motion key":
        assert bpy.ops.symbreak.animate() == {'FINISHED'}
        keys.key_blocks[animation.MOTION_KEY].name = "My Motion"
        name = "My Motion"
    else:
        keys.key_blocks["Target"].value = 1.0
        name = "Target"
    before = [k.name for k in keys.key_blocks]
    expect_cancelled(bpy.ops.symbreak.animate, f"Shape key '{name}' .* also deforms 'Task 1'")
    assert [k.name for k in keys.key_blocks] == before
    keys.key_blocks[name].mute = True
    assert bpy.ops.symbreak.animate() == {'FINISHED'}


def test_training_again_redraws_the_signal_surfaces(symbreak):
    """Signal surfaces shown before training again show the new prediction, not the old one."""
    from symbreak.addon import storage

    obj = trained("Task 1")
    assert bpy.ops.symbreak.show_signals() == {'FINISHED'}
    drawn = bpy.data.objects[f"{obj.name} Signals"]
    first = np.array([v.co[:] for v in drawn.data.vertices])
    bpy.context.scene.symbreak.training.iterations = 3
    assert bpy.ops.symbreak.train() == {'FINISHED'}
    redrawn = bpy.data.objects[f"{obj.name} Signals"]
    again = np.array([v.co[:] for v in redrawn.data.vertices])
    assert np.abs(again - first).max() > 1e-3  # 3 steps predict other signals than 200
    assert bpy.ops.symbreak.show_signals() == {'FINISHED'}  # what Show Signals would draw now
    shown = np.array([v.co[:] for v in bpy.data.objects[f"{obj.name} Signals"].data.vertices])
    np.testing.assert_allclose(again, shown, atol=1e-6)
    assert len(storage.loss_history(obj)) == 3
