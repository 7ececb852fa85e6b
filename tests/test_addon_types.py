"""Vertex types in the add-on (bpy 5.0, headless): an integer vertex attribute feeds Analyze
Symmetry, Train, Predict and Learn Order Parameter; a mesh without it is untyped."""

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from helpers import activate, expect_cancelled, select_vertices  # noqa: E402

CO = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.13]])
CO_STRETCHED = CO + [[0.0, 0.0, -0.05], [0.0, 0.0, 0.07]]


@pytest.fixture(autouse=True)
def fast_training(symbreak):
    t = bpy.context.scene.symbreak.training
    t.iterations, t.lmax, t.learning_rate = 150, 2, 1e-2
    yield symbreak


def molecule(name, points, target, species=None, data_type='INT', domain='POINT'):
    """A mesh of ``points`` with the shape key Target and, if given, the attribute ``species``."""
    from symbreak.addon import mesh

    obj = bpy.data.objects.new(name, mesh.new_mesh(name, points))
    bpy.context.scene.collection.objects.link(obj)
    mesh.set_shape_key(obj, "Target", target)
    if species is not None:
        attribute = obj.data.attributes.new("species", data_type, domain)
        attribute.data.foreach_set("value", np.asarray(species))
    activate(obj)
    return obj


def analysed(obj):
    from symbreak.addon import storage

    assert bpy.ops.symbreak.analyze_symmetry() == {'FINISHED'}
    return storage.symmetry(obj)


@pytest.mark.parametrize("data_type", ['INT', 'INT8'])
def test_species_makes_co_c_inf_v(symbreak, data_type):
    """CO with its species is C∞v and its stretch learnable; without the attribute it is
    quietly untyped: D∞h, and the stretch is not learnable."""
    obj = molecule("CO", CO, CO_STRETCHED, [6, 8], data_type)
    record = analysed(obj)
    assert (record["start_group"], record["learnable"]) == ("C∞v", True)
    obj.data.attributes.remove(obj.data.attributes["species"])
    record = analysed(obj)
    assert (record["start_group"], record["learnable"]) == ("D∞h", False)


def test_attribute_name_is_a_setting(symbreak):
    """The Types field names the attribute read: another name, another grouping."""
    obj = molecule("CO", CO, CO_STRETCHED, [6, 8])
    attribute = obj.data.attributes.new("isotope", 'INT', 'POINT')
    attribute.data.foreach_set("value", np.array([12, 12]))
    obj.symbreak.types_attribute = "isotope"
    assert analysed(obj)["start_group"] == "D∞h"
    obj.symbreak.types_attribute = ""
    assert analysed(obj)["start_group"] == "D∞h"
    obj.symbreak.types_attribute = "species"
    assert analysed(obj)["start_group"] == "C∞v"


@pytest.mark.parametrize("data_type, domain, values, message", [
    ('FLOAT', 'POINT', [6.0, 8.0], "holds float values on the point domain"),
    ('BOOLEAN', 'POINT', [True, False], "holds boolean values"),
    ('INT', 'EDGE', [6], "on the edge domain"),
], ids=["float", "boolean", "edges"])
def test_species_of_another_kind_is_refused(symbreak, data_type, domain, values, message):
    obj = molecule("CO", CO, CO_STRETCHED)
    obj.data.edges.add(1)
    obj.data.edges.foreach_set("vertices", np.array([0, 1], dtype=np.int32))
    attribute = obj.data.attributes.new("species", data_type, domain)
    attribute.data.foreach_set("value", np.asarray(values))
    for op in ("analyze_symmetry", "train", "learn_order_parameter"):
        expect_cancelled(getattr(bpy.ops.symbreak, op), message)


def test_edit_mode_takes_the_selected_vertices_types(symbreak):
    """A square of alternating species: two neighbours differ (C∞v), two opposite corners are alike (D∞h)."""
    square = np.array([[1.0, 1.0, 0.0], [-1.0, 1.0, 0.0], [-1.0, -1.0, 0.0], [1.0, -1.0, 0.0]])
    obj = molecule("Square", square, square * 1.1, [1, 2, 1, 2])
    for flags, group in (([True, True, False, False], "C∞v"), ([True, False, True, False], "D∞h")):
        select_vertices(obj, flags)
        bpy.ops.object.mode_set(mode='EDIT')
        try:
            assert analysed(obj)["start_group"] == group
        finally:
            bpy.ops.object.mode_set(mode='OBJECT')


def test_train_and_predict_with_species(symbreak):
    """Train reads the species (the model keeps 6 and 8 and reaches the stretch); Predict takes
    them again and refuses a species the model never saw, changing nothing."""
    from symbreak.addon import storage
    from symbreak.engine import api

    obj = molecule("CO", CO, CO_STRETCHED, [6, 8])
    assert bpy.ops.symbreak.train() == {'FINISHED'}
    assert api.model_summary(storage.model_bytes(obj))["types"] == [6, 8]
    assert storage.fit(obj).max_error < 0.01
    assert bpy.ops.symbreak.predict() == {'FINISHED'}
    np.testing.assert_allclose(storage.prediction(obj).start + storage.prediction(obj).displacements, CO_STRETCHED,
                               atol=1e-3)
    obj.data.attributes["species"].data.foreach_set("value", np.array([6, 7]))
    expect_cancelled(bpy.ops.symbreak.predict, "never saw the vertex type 7")
    obj.data.attributes.remove(obj.data.attributes["species"])
    expect_cancelled(bpy.ops.symbreak.predict, "trained on the vertex types 6 and 8")


def test_learn_order_parameter_passes_the_species(symbreak, monkeypatch):
    """Learn Order Parameter hands the selected vertices' species to the engine."""
    from symbreak.engine import api

    given = []
    original = api.learn_order_parameter

    def recorded(*args, types=None, **kwargs):
        given.append(types)
        return original(*args, types=types, **{**kwargs, "iterations": 5})

    monkeypatch.setattr(api, "learn_order_parameter", recorded)
    molecule("CO", CO, CO_STRETCHED, [6, 8])
    assert bpy.ops.symbreak.learn_order_parameter() == {'FINISHED'}
    assert given[0].tolist() == [6, 8]
