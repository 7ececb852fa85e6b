"""Vertex types: they restrict the point group, reach the network as one-hot scalars, stay with
the model, and a prediction refuses types the model never saw."""

import json

import numpy as np
import pytest
import torch

from engine import api, checkpoint
from engine.checkpoint import CheckpointError
from engine.features import MAX_TYPES, Features
from engine.tasks import rectangle, square
from engine.validation import check_types

from helpers import rotations

SMALL = api.ModelConfig(lmax=2, radial_neurons=16)
CARBON, OXYGEN = 6, 8
CO = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.13]])
# the bond stretches and the molecule shifts: C moves by -0.05 along z, O by +0.07
CO_STRETCHED = CO + [[0.0, 0.0, -0.05], [0.0, 0.0, 0.07]]
CO_TYPES = [CARBON, OXYGEN]


@pytest.fixture(scope="module")
def co_model():
    """A network trained on carbon monoxide with its types."""
    return api.train(CO, CO_STRETCHED, config=SMALL, types=CO_TYPES, iterations=150, lr=1e-2)


# --- the point group -----------------------------------------------------------------------------


def test_co_is_c_inf_v_with_types_and_d_inf_h_without():
    """Two atoms of different kinds cannot be exchanged: C∞v, and a stretch that moves them
    differently keeps it. Without types the two points are alike: D∞h, and the stretch breaks it."""
    typed = api.analyze(CO, CO_STRETCHED, types=CO_TYPES)
    untyped = api.analyze(CO, CO_STRETCHED)
    assert (typed["start_group"], typed["learnable"], typed["warning"]) == ("C∞v", True, "")
    assert (untyped["start_group"], untyped["kept_group"], untyped["learnable"]) == ("D∞h", "C∞v", False)
    assert api.analyze(CO, CO_STRETCHED, types=[OXYGEN, OXYGEN])["start_group"] == "D∞h"


def test_types_break_the_square():
    """Alternating types on a square's corners leave D2h of its D4h (only half the rotations
    still map each corner onto one of its own kind)."""
    record = api.analyze(square(), rectangle(), types=[1, 2, 1, 2])
    assert api.analyze(square(), rectangle())["start_group"] == "D4h"
    assert (record["start_group"], record["start_order"]) == ("D2h", 8)


# --- the network's input -------------------------------------------------------------------------


def test_one_hot_scalars_in_the_order_of_the_types():
    """K types give K scalars ``Kx0e``, point i's one-hot of its type among the sorted types."""
    f = Features.of_types(4, [8, 1, 8, 6])
    assert f.irreps == "3x0e" and f.types == (1, 6, 8)
    np.testing.assert_array_equal(f.values, [[0, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 0]])
    known = Features.of_types(2, [6, 6], known=(1, 6, 8))  # a subset of a model's types keeps its columns
    np.testing.assert_array_equal(known.values, [[0, 1, 0], [0, 1, 0]])
    with_input = Features.with_order_parameter(4, api.axis_pair((1, 0, 0), (0, 1, 0)), [8, 1, 8, 6])
    assert with_input.irreps == "3x0e+2e" and with_input.order_parameter_irreps == "2e"
    np.testing.assert_array_equal(with_input.values[:, :3], f.values)
    np.testing.assert_array_equal(with_input.order_parameter_values, np.tile(with_input.values[0, 3:], (4, 1)))


def test_no_types_or_one_type_is_the_seed_input():
    """Untyped features are today's scalar 1 exactly; a single type is the same input."""
    for features in (Features.of_types(3), Features.of_types(3, [5, 5, 5]), Features.with_order_parameter(3, None)):
        assert features.irreps == "0e"
        np.testing.assert_array_equal(features.values, np.ones((3, 1)))
    assert Features.of_types(3).types == () and Features.of_types(3, [5, 5, 5]).types == (5,)


def test_untyped_training_unchanged_by_one_type():
    """Training with every point of one type gives the untyped network, step for step."""
    plain = api.train(square(), rectangle(), config=SMALL, iterations=5)
    one_type = api.train(square(), rectangle(), config=SMALL, types=[3, 3, 3, 3], iterations=5)
    np.testing.assert_array_equal(plain.loss_history, one_type.loss_history)
    np.testing.assert_array_equal(plain.prediction.signals, one_type.prediction.signals)
    assert api.model_summary(plain.model)["types"] == [] and api.model_summary(one_type.model)["types"] == [3]


def test_types_make_co_learnable(co_model):
    """With its types the network tells C from O and learns their different moves; without
    them it cannot (Curie: D∞h makes the two atoms' outputs mirror images)."""
    assert api.model_summary(co_model.model)["features_irreps"] == "2x0e"
    assert co_model.fit.max_error < 0.01
    untyped = api.train(CO, CO_STRETCHED, config=SMALL, iterations=150, lr=1e-2)
    # the best mirror-image moves are -0.06 and +0.06: each atom 0.01 off, 1/7 of the largest move
    assert untyped.fit.max_error > 0.99 / 7
    d = untyped.prediction.displacements
    np.testing.assert_allclose(d[0], -d[1], atol=1e-6)


def test_typed_network_is_equivariant(co_model):
    """Rotating (and inverting) the molecule rotates the predicted moves."""
    base = api.predict(co_model.model, CO, types=CO_TYPES).displacements
    for R in rotations(seed=1, count=2):
        turned = api.predict(co_model.model, CO @ R.T, types=CO_TYPES).displacements
        np.testing.assert_allclose(turned, base @ R.T, atol=1e-6)


# --- the model keeps its types -------------------------------------------------------------------


def test_checkpoint_round_trip_with_types(co_model):
    """The type list survives bytes and back, and the loaded model predicts the same."""
    network, features = checkpoint.from_bytes(co_model.model)
    assert features.types == (CARBON, OXYGEN) and features.irreps == "2x0e"
    again, same = checkpoint.from_bytes(checkpoint.to_bytes(network, features))
    assert same.types == features.types
    np.testing.assert_array_equal(same.values, features.values)
    for a, b in zip(network.parameters(), again.parameters()):
        assert torch.equal(a, b)
    prediction = api.predict(co_model.model, CO, types=CO_TYPES)
    np.testing.assert_allclose(prediction.predicted, co_model.prediction.predicted, atol=1e-6)
    swapped = api.predict(co_model.model, CO, types=[OXYGEN, CARBON])  # the types matter
    assert not np.allclose(swapped.displacements, prediction.displacements, atol=1e-3)


def _with_header(data: bytes, **changes) -> bytes:
    """The checkpoint ``data`` with its JSON header's entries replaced (``None`` removes one)."""
    import io

    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    header = json.loads(str(arrays["header"]))
    for key, value in changes.items():
        header.pop(key) if value is None else header.__setitem__(key, value)
    arrays["header"] = np.array(json.dumps(header))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize("types", [["6", 8], [8, 6], [6, 6], [True, 8], list(range(MAX_TYPES + 1)), [6, 8, 9], 6],
                         ids=["text", "unsorted", "repeated", "bool", "too-many", "more-than-features", "not-a-list"])
def test_damaged_types_are_refused(co_model, types):
    with pytest.raises(CheckpointError, match="Damaged SymBreak model"):
        checkpoint.from_bytes(_with_header(co_model.model, types=types))


def test_model_without_stored_types_is_untyped():
    """A model written before types existed (no ``types`` in its header) reads as untyped."""
    plain = api.train(square(), rectangle(), config=SMALL, iterations=2).model
    _, features = checkpoint.from_bytes(_with_header(plain, types=None))
    assert features.types == () and features.irreps == "0e"


# --- prediction refuses types it cannot take ------------------------------------------------------


@pytest.mark.parametrize("types, message", [
    ([CARBON, 7], "never saw the vertex type 7 (it was trained on 6 and 8)"),
    ([1, 7], "never saw the vertex types 1 and 7"),
    (None, "trained on the vertex types 6 and 8: give each point's type"),
    ([CARBON], "one integer per point"),
], ids=["unseen", "two-unseen", "missing", "length"])
def test_predict_refuses_types_it_cannot_take(co_model, types, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        api.predict(co_model.model, CO, types=types)


def test_predict_takes_some_of_the_types(co_model):
    """Points of only one of the model's types are fine: two carbons move alike."""
    d = api.predict(co_model.model, CO, types=[CARBON, CARBON]).displacements
    np.testing.assert_allclose(d[0], -d[1], atol=1e-6)


def test_untyped_model_refuses_types():
    plain = api.train(square(), rectangle(), config=SMALL, iterations=2).model
    with pytest.raises(ValueError, match="trained without vertex types"):
        api.predict(plain, square(), types=[1, 2, 1, 2])


# --- checks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("types, message", [
    ([1.0, 2.0], "integers"), ([True, False], "integers"), (["C", "O"], "integers"),
    ([1, 2, 3], "one integer per point"), ([[1], [2]], "one integer per point"),
    (np.array([2**64 - 1, 0], dtype=np.uint64), "below 2\\*\\*63"),
], ids=["floats", "bools", "text", "length", "2d", "huge"])
def test_check_types(types, message):
    with pytest.raises(ValueError, match=message):
        check_types(types, 2)


def test_every_call_checks_its_types():
    """analyze, train, predict and learn_order_parameter refuse bad types in one sentence,
    before any work; too many distinct types for the network are refused by train and learn."""
    with pytest.raises(ValueError, match="integers"):
        api.analyze(CO, CO_STRETCHED, types=[0.5, 1.5])
    with pytest.raises(ValueError, match="one integer per point"):
        api.learn_order_parameter(square(), rectangle(), config=SMALL, types=[1, 2], iterations=1)
    points = np.random.default_rng(0).normal(size=(MAX_TYPES + 1, 3))
    for call in (api.train, api.learn_order_parameter):
        with pytest.raises(ValueError, match=f"at most {MAX_TYPES}"):
            call(points, points, config=SMALL, types=np.arange(MAX_TYPES + 1), iterations=1)
    assert check_types(None, 3) is None and check_types(np.array([1, 2], dtype=np.int8), 2).dtype == np.int64


def test_learn_order_parameter_reads_the_types():
    """Learning runs on the typed input: alternating types change every step, one type none."""
    def history(types):
        return api.learn_order_parameter(square(), rectangle(), config=SMALL, types=types, iterations=5).loss_history

    untyped = history(None)
    np.testing.assert_array_equal(history([1, 1, 1, 1]), untyped)
    assert not np.allclose(history([1, 2, 1, 2])[1:], untyped[1:])
