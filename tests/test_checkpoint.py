"""Checkpoints: exact round trips, and nothing but plain arrays is ever read."""

import io
import json
import pickle
import zipfile

import numpy as np
import pytest
import torch

from engine import checkpoint
from engine.checkpoint import CheckpointError
from engine.config import ModelConfig
from engine.features import Features
from engine.graph import Graph
from engine.network import Network
from engine.order_parameter import axis_pair
from engine.tasks import rectangle, square
from engine.prediction import predict
from engine.schedule import Schedule
from engine.training import train

TASK3_INPUT = axis_pair((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))

UNPICKLED = []


def _record(message):
    UNPICKLED.append(message)
    return message


class Payload:
    """Unpickling this calls ``_record``: proof that a loader executed pickle code."""

    def __reduce__(self):
        return _record, ("pickle payload executed",)


@pytest.fixture(autouse=True)
def no_code_ran():
    UNPICKLED.clear()
    yield
    assert UNPICKLED == [], "loading a checkpoint executed pickled code"


@pytest.fixture(scope="module")
def trained():
    """A small model trained briefly (in float32, the default) on Task 3's inputs."""
    features = Features.with_order_parameter(4, TASK3_INPUT)
    result = train(square(), rectangle(), config=ModelConfig(lmax=3, radial_neurons=16, radius=5.0),
                   features=features, schedule=Schedule(5))
    return result.model, features


@pytest.fixture(scope="module")
def fresh():
    """A float64 model as built (never cast), with Task 3's inputs."""
    torch.manual_seed(0)
    return Network(ModelConfig(lmax=3, radial_neurons=16), "0e+2e"), Features.with_order_parameter(4, TASK3_INPUT)


def outputs(model, features, positions=None):
    positions = square() if positions is None else positions
    with torch.no_grad():
        return model(torch.as_tensor(features.values), Graph.of(model.config, positions))


def archive_arrays(data: bytes) -> dict:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


# --- round trips -----------------------------------------------------------------------------


def test_bytes_round_trip(trained):
    """from_bytes(to_bytes(m)) has the same config, parameters, features and outputs, bit for bit.

    (A model fresh from ``train`` must behave exactly as it will after saving and loading.)
    """
    model, features = trained
    loaded, loaded_features = checkpoint.from_bytes(checkpoint.to_bytes(model, features))
    assert loaded.config == model.config
    assert loaded.irreps_in == model.irreps_in
    assert loaded_features.irreps == features.irreps
    np.testing.assert_array_equal(loaded_features.values, features.values)
    for (name, a), (other, b) in zip(model.named_parameters(), loaded.named_parameters()):
        assert name == other and torch.equal(a, b)
    assert torch.equal(outputs(loaded, loaded_features), outputs(model, features))


def test_round_trip_prediction(fresh):
    """A loaded model predicts exactly what the original predicts."""
    model, features = fresh
    loaded, loaded_features = checkpoint.from_bytes(checkpoint.to_bytes(model, features))
    a, b = predict(model, square(), features), predict(loaded, square(), loaded_features)
    np.testing.assert_array_equal(a.signals, b.signals)


@pytest.mark.parametrize("config, irreps", [(ModelConfig(), "0e"), (ModelConfig(lmax=2, output="vector", layers=2), "2x0e+1o")])
def test_round_trip_configs(config, irreps):
    torch.manual_seed(0)
    model = Network(config, irreps)
    features = Features(irreps, np.random.default_rng(0).normal(size=(5, model.irreps_in.dim)))
    loaded, loaded_features = checkpoint.from_bytes(checkpoint.to_bytes(model, features))
    positions = np.random.default_rng(1).normal(size=(5, 3))
    assert loaded.config == config
    assert torch.equal(outputs(loaded, loaded_features, positions), outputs(model, features, positions))


def test_save_load_file(fresh, tmp_path):
    """save then load through a file."""
    model, features = fresh
    path = tmp_path / "model.symbreak"
    checkpoint.save(path, model, features)
    loaded, loaded_features = checkpoint.load(path)
    assert torch.equal(outputs(loaded, loaded_features), outputs(model, features))
    assert checkpoint.load(str(path))[0].config == model.config


def test_file_is_plain_arrays(trained):
    """The archive holds only .npy members, a JSON header that describes it, and no pickles."""
    data = checkpoint.to_bytes(*trained)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())
        assert not any(b"\x80" == archive.read(n)[:1] for n in archive.namelist())  # pickle protocol mark
    arrays = archive_arrays(data)
    header = json.loads(str(arrays["header"]))
    assert header["format"] == checkpoint.FORMAT and header["version"] == checkpoint.VERSION
    assert header["config"] == trained[0].config.to_dict()
    assert all(a.dtype != object for a in arrays.values())


def test_a_model_saved_before_the_hub_loads_without_one(trained):
    """A radius-graph checkpoint whose configuration has no ``hub`` was trained without one."""
    config = {**trained[0].config.to_dict(), "radius": 1.5}
    del config["hub"]
    model, _ = checkpoint.from_bytes(_with_header(trained, config=config))
    assert model.config.radius == 1.5 and not model.config.has_hub
    assert ModelConfig(radius=1.5).has_hub and not ModelConfig().has_hub


def test_a_model_saved_before_channels_loads_with_one(fresh):
    """A radius-graph checkpoint whose configuration has no ``channels`` has the seed's one copy
    of each degree, although a new radius graph gets more."""
    torch.manual_seed(0)
    old = (Network(ModelConfig(lmax=3, radial_neurons=16, radius=1.5, channels=1), "0e+2e"), fresh[1])
    config = old[0].config.to_dict()
    del config["channels"]
    model, _ = checkpoint.from_bytes(_with_header(old, config=config))
    assert model.config.hidden_channels == 1 < ModelConfig(radius=1.5).hidden_channels
    assert torch.equal(model.radial.flat(), old[0].radial.flat())


# --- refusals --------------------------------------------------------------------------------


def _good_arrays(trained):
    return archive_arrays(checkpoint.to_bytes(*trained))


def _with_header(trained, **changes):
    arrays = _good_arrays(trained)
    header = json.loads(str(arrays["header"]))
    header.update(changes)
    arrays["header"] = np.array(json.dumps(header))
    return npz(**arrays)


def _object_array_checkpoint(trained):
    """A real checkpoint with one extra member: an object array carrying a pickle payload."""
    payload = np.empty(1, dtype=object)
    payload[0] = Payload()
    return npz(**_good_arrays(trained), extra=payload)


def _object_features_checkpoint(trained):
    """A real checkpoint whose features are an object array (a pickle payload)."""
    arrays = _good_arrays(trained)
    arrays["features"] = np.array([Payload()] * 4, dtype=object)
    return npz(**arrays)


def _torch_save(trained):
    buffer = io.BytesIO()
    torch.save({"model": trained[0].state_dict(), "payload": Payload()}, buffer)
    return buffer.getvalue()


def _npy(trained):
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((4, 3)))
    return buffer.getvalue()


def _npy_object(trained):
    buffer = io.BytesIO()
    np.save(buffer, np.array([Payload()], dtype=object), allow_pickle=True)
    return buffer.getvalue()


BAD = {
    "object-array-member": _object_array_checkpoint,
    "object-array-features": _object_features_checkpoint,
    "torch-save": _torch_save,
    "raw-pickle": lambda trained: pickle.dumps(Payload()),
    "random-bytes": lambda trained: np.random.default_rng(0).bytes(4096),
    "empty": lambda trained: b"",
    "truncated": lambda trained: checkpoint.to_bytes(*trained)[:200],
    "npy-not-npz": _npy,
    "npy-object-array": _npy_object,
    "no-header": lambda trained: npz(**{k: v for k, v in _good_arrays(trained).items() if k != "header"}),
    "header-not-json": lambda trained: npz(**{**_good_arrays(trained), "header": np.array("{not json")}),
    "header-not-object": lambda trained: npz(**{**_good_arrays(trained), "header": np.array("[1, 2]")}),
    "wrong-format": lambda trained: _with_header(trained, format="someone.else"),
    "wrong-version": lambda trained: _with_header(trained, version=99),
    "missing-parameter": lambda trained: npz(**{k: v for k, v in _good_arrays(trained).items()
                                                if not k.startswith("parameter/radial.last")}),
    "parameter-wrong-shape": lambda trained: npz(**{k: (v.T if k.startswith("parameter/") else v)
                                                    for k, v in _good_arrays(trained).items()}),
    # shapes that broadcast onto the real ones: copy_ must not silently accept them
    "parameter-broadcastable-shape": lambda trained: npz(**{k: (v[:1] if k.startswith("parameter/") else v)
                                                            for k, v in _good_arrays(trained).items()}),
    "parameter-list-mismatch": lambda trained: _with_header(trained, parameters=["a"]),
    "unknown-config-key": lambda trained: _with_header(trained, config={"lmax": 3, "colour": "red"}),
    "config-out-of-range": lambda trained: _with_header(trained, config={**trained[0].config.to_dict(), "lmax": 99}),
    "channels-zero": lambda trained: _with_header(trained, config={**trained[0].config.to_dict(), "channels": 0}),
    "channels-not-an-int": lambda trained: _with_header(trained, config={**trained[0].config.to_dict(),
                                                                         "channels": 2.0}),
    "hub-not-a-bool": lambda trained: _with_header(trained, config={**trained[0].config.to_dict(), "hub": "yes"}),
    "features-wrong-width": lambda trained: npz(**{**_good_arrays(trained), "features": np.ones((4, 2))}),
}


@pytest.mark.parametrize("make", list(BAD.values()), ids=list(BAD))
def test_refused_with_checkpoint_error(make, trained):
    """Anything but a SymBreak checkpoint: CheckpointError with a clear message, no code executed."""
    with pytest.raises(CheckpointError) as error:
        checkpoint.from_bytes(make(trained))
    message = str(error.value)
    assert len(message) > 20 and "\n" not in message


def test_pickle_payload_file_refused(trained, tmp_path):
    """A file on disk carrying a pickle payload is refused by load()."""
    path = tmp_path / "evil.npz"
    path.write_bytes(_object_array_checkpoint(trained))
    with pytest.raises(CheckpointError, match="SymBreak model"):
        checkpoint.load(path)
    assert np.load(path, allow_pickle=True)["extra"][0] == "pickle payload executed"  # the payload is real
    UNPICKLED.clear()  # ... and ran only in that last, deliberate line
