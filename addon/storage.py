# SPDX-License-Identifier: GPL-3.0-or-later
"""What SymBreak keeps on an object inside the .blend, as plain ID properties.

- ``symbreak_model``: the engine checkpoint (npz + JSON, no pickle) as base64 text;
- ``symbreak_loss``: the loss history, a float array;
- ``symbreak_config``: the settings training started with, JSON text;
- ``symbreak_target``: the target positions used for training, a float array;
- ``symbreak_prediction``: the latest decoded prediction (indices, start, displacements, signals,
  ambiguity, tied peaks) and what it was made on (the mesh's vertex count and a fingerprint of
  its positions);
- ``symbreak_symmetry``: the latest symmetry analysis, JSON text;
- ``symbreak_order_parameter`` and ``symbreak_learned_order_parameter``: the order parameter
  used as the symmetry-breaking input and the one found by gradient descent, JSON text
  (``OrderParameter.to_dict``).

Positions, displacements, signals and order parameters are in the object's local coordinates.
Nothing is ever unpickled.

Writing deletes the key first: bpy 5.0 does not resize an existing array ID property when a
numpy array is assigned to it (a longer one corrupts memory, a shorter one leaves stale values).
Reading copies every value out (``np.array``, never a view that dies with the property) and
checks it; anything damaged raises :class:`StoredDataError` with one sentence. Nothing
non-finite is written.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar

import bpy
import numpy as np

from ..engine import api

MODEL = "symbreak_model"
LOSS = "symbreak_loss"
CONFIG = "symbreak_config"
PREDICTION = "symbreak_prediction"
TARGET = "symbreak_target"
SYMMETRY = "symbreak_symmetry"
ORDER_PARAMETER = "symbreak_order_parameter"
LEARNED_ORDER_PARAMETER = "symbreak_learned_order_parameter"
FIT = "symbreak_fit"
KEYS = (MODEL, LOSS, CONFIG, PREDICTION, TARGET, SYMMETRY, ORDER_PARAMETER, LEARNED_ORDER_PARAMETER, FIT)

T = TypeVar("T")


class StoredDataError(ValueError):
    """A stored value that is missing parts, of the wrong type or shape, or not finite."""


@dataclass(frozen=True)
class StoredPrediction:
    """A decoded prediction in the object's local coordinates, for its ``indices`` vertices, made
    on a mesh of ``vertex_count`` vertices whose positions had ``fingerprint``."""

    indices: np.ndarray        # (N,) int
    start: np.ndarray          # (N, 3)
    displacements: np.ndarray  # (N, 3)
    signals: np.ndarray        # (N, D)
    ambiguous: np.ndarray      # (N,) bool
    peaks: list[np.ndarray]    # N arrays (k_i, 3)
    vertex_count: int
    fingerprint: str

    def __post_init__(self) -> None:
        n = len(self.indices)
        shapes = [np.shape(a) for a in (self.start, self.displacements)]
        if shapes != [(n, 3), (n, 3)] or np.ndim(self.signals) != 2 or len(self.signals) != n \
                or np.shape(self.ambiguous) != (n,) or len(self.peaks) != n:
            raise ValueError(f"A prediction of {n} vertices needs (N, 3) positions and N signals and peaks")
        for what, array in (("positions", self.start), ("displacements", self.displacements),
                            ("signals", self.signals), *(("peaks", k) for k in self.peaks)):
            _finite(f"The prediction's {what}", np.asarray(array, dtype=np.float64))

    @property
    def predicted(self) -> np.ndarray:
        return self.start + self.displacements


def _put(obj: bpy.types.Object, key: str, value: Any) -> None:
    """``obj[key] = value`` whatever was stored before (deleted first)."""
    if key in obj.keys():
        del obj[key]
    obj[key] = value


def _finite(what: str, array: np.ndarray) -> np.ndarray:
    if not np.isfinite(array).all():
        raise ValueError(f"{what} has NaN or infinite values")
    return array


def _reading(obj: bpy.types.Object, key: str, what: str, how: str, read: Callable[[Any], T]) -> T:
    """``read(obj[key])``, any error in it turned into one :class:`StoredDataError` sentence that
    says ``how`` to make it again."""
    try:
        return read(obj[key])
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, binascii.Error) as error:
        raise StoredDataError(f"{obj.name!r} has a damaged stored {what} ({error}): {how}") from None


def _copy(value: Any) -> np.ndarray:
    """A float64 copy of a stored array (an ID-property array is copied out, never viewed)."""
    return np.array(value.to_list() if hasattr(value, "to_list") else value, dtype=np.float64)


def _floats(value: Any, *shape: int) -> np.ndarray:
    """A finite float64 copy of a stored array, of ``shape`` (-1 for any length)."""
    return _finite("it", _copy(value).reshape(shape))


def _ints(value: Any) -> np.ndarray:
    array = _copy(value)
    if array.ndim != 1 or not np.isfinite(array).all() or (array != np.round(array)).any():
        raise ValueError("indices must be whole numbers")
    return array.astype(np.int64)


def has(obj: Optional[bpy.types.Object], key: str) -> bool:
    return obj is not None and key in obj.keys()


def has_model(obj: Optional[bpy.types.Object]) -> bool:
    return has(obj, MODEL)


def has_prediction(obj: Optional[bpy.types.Object]) -> bool:
    return has(obj, PREDICTION)


# --- model, loss history, settings, target -------------------------------------------------------

def store_model(obj: bpy.types.Object, blob: bytes, loss_history: np.ndarray, config: dict[str, Any]) -> None:
    """Keep a model, its loss history and the settings it was trained with (``ValueError``, and
    nothing written, for a non-finite loss)."""
    losses = _finite("The loss history", np.array(loss_history, dtype=np.float64).ravel())
    _put(obj, MODEL, base64.b64encode(blob).decode("ascii"))
    _put(obj, LOSS, losses)
    _put(obj, CONFIG, json.dumps(config))


def model_bytes(obj: bpy.types.Object) -> bytes:
    """The stored model's bytes (``api.model_from_text`` bounds and decodes the base64 text)."""
    return _reading(obj, MODEL, "model", "train again", api.model_from_text)


def loss_history(obj: bpy.types.Object) -> np.ndarray:
    """The loss history ``(T,)`` (empty when there is none)."""
    if not has(obj, LOSS):
        return np.zeros(0)
    return _reading(obj, LOSS, "loss history", "train again", lambda v: _floats(v, -1))


def store_fit(obj: bpy.types.Object, fit: api.Fit) -> None:
    """Keep how close the latest training came to its target (``api.Fit``)."""
    _put(obj, FIT, json.dumps(fit.to_dict()))


def fit(obj: bpy.types.Object) -> Optional[api.Fit]:
    """The latest training's fit, or None when none is stored."""
    if not has(obj, FIT):
        return None
    return _reading(obj, FIT, "fit", "train again", lambda v: api.Fit.from_dict(json.loads(v)))


def config(obj: bpy.types.Object) -> dict[str, Any]:
    """The settings training started with."""
    def read(value: Any) -> dict[str, Any]:
        found = json.loads(value)
        if not isinstance(found, dict):
            raise TypeError("a JSON object expected")
        return found

    return _reading(obj, CONFIG, "settings", "train again", read)


def store_target(obj: bpy.types.Object, local: np.ndarray) -> None:
    _put(obj, TARGET, _finite("The target", np.array(local, dtype=np.float64)).ravel())


def target(obj: bpy.types.Object) -> Optional[np.ndarray]:
    """The training target ``(N, 3)``, or None when there is none."""
    if not has(obj, TARGET):
        return None
    return _reading(obj, TARGET, "target", "train again", lambda v: _floats(v, -1, 3))


# --- prediction -----------------------------------------------------------------------------------

def store_prediction(obj: bpy.types.Object, p: StoredPrediction) -> None:
    """Keep ``p`` (checked finite when it was made)."""
    n = len(p.indices)
    peaks = [np.array(k, dtype=np.float64).reshape(-1, 3) for k in p.peaks]
    flat = np.concatenate(peaks) if peaks else np.zeros((0, 3))
    _put(obj, PREDICTION, {
        "indices": np.array(p.indices, dtype=np.int32),
        "start": np.array(p.start, dtype=np.float64).reshape(n, 3).ravel(),
        "displacements": np.array(p.displacements, dtype=np.float64).reshape(n, 3).ravel(),
        "signals": np.array(p.signals, dtype=np.float64).reshape(n, -1).ravel(),
        "signal_dim": int(np.shape(p.signals)[1]),
        "ambiguous": np.array(p.ambiguous, dtype=np.int32),
        "peak_counts": np.array([len(k) for k in peaks], dtype=np.int32),
        "peaks": flat.ravel(),
        "vertex_count": int(p.vertex_count),
        "fingerprint": str(p.fingerprint),
    })


def prediction(obj: bpy.types.Object) -> StoredPrediction:
    def read(g: Any) -> StoredPrediction:
        indices = _ints(g["indices"])
        n = len(indices)
        counts = _ints(g["peak_counts"])
        dim = int(g["signal_dim"])
        if len(counts) != n or (counts < 0).any() or dim < 1:
            raise ValueError("its peak counts or signal size do not fit its vertices")
        flat = _floats(g["peaks"], -1, 3)
        if len(flat) != counts.sum() or (indices < 0).any() or len(np.unique(indices)) != n:
            raise ValueError("its peaks or indices do not fit its vertices")
        fingerprint = g["fingerprint"]
        if not isinstance(fingerprint, str):
            raise TypeError("its fingerprint is not text")
        return StoredPrediction(
            indices=indices, start=_floats(g["start"], n, 3), displacements=_floats(g["displacements"], n, 3),
            signals=_floats(g["signals"], n, dim), ambiguous=_ints(g["ambiguous"]).reshape(n).astype(bool),
            peaks=list(np.split(flat, np.cumsum(counts)[:-1])) if n else [],
            vertex_count=int(g["vertex_count"]), fingerprint=fingerprint)

    return _reading(obj, PREDICTION, "prediction", "Predict again", read)


# --- symmetry analysis and order parameters -----------------------------------------------------

_RECORD = {"start_group": str, "kept_group": str, "learnable": bool, "verdict": str, "inputs": str,
           "warning": str}


def store_symmetry(obj: bpy.types.Object, record: dict[str, Any]) -> None:
    """Keep a symmetry analysis (``api.analyze``'s dict); the per-point order parameter is left out."""
    _put(obj, SYMMETRY, json.dumps({k: v for k, v in record.items() if k != "point_order_parameter"}))


def symmetry(obj: Optional[bpy.types.Object]) -> Optional[dict[str, Any]]:
    """The latest symmetry analysis, its order parameter checked, or None when there is none."""
    if obj is None or not has(obj, SYMMETRY):
        return None

    def read(value: Any) -> dict[str, Any]:
        record = json.loads(value)
        if not isinstance(record, dict):
            raise TypeError("a JSON object expected")
        for key, kind in _RECORD.items():
            if not isinstance(record[key], kind):
                raise TypeError(f"{key} is not {kind.__name__}")
        if record.get("order_parameter") is not None:
            api.OrderParameter.from_dict(record["order_parameter"])
        return record

    return _reading(obj, SYMMETRY, "symmetry analysis", "Analyze Symmetry again", read)


def suggested_order_parameter(obj: Optional[bpy.types.Object]) -> Optional[api.OrderParameter]:
    """The global order parameter of the latest symmetry analysis, if it found one: the one that
    keeps exactly the target's group, or the closest when none does (``api.fixes_target``)."""
    found = (symmetry(obj) or {}).get("order_parameter")
    return None if found is None else api.OrderParameter.from_dict(found)


def _store_order_parameter(obj: bpy.types.Object, key: str, p: api.OrderParameter) -> None:
    for l, block in p.blocks.items():
        _finite(f"The order parameter's L={l} block", np.asarray(block, dtype=np.float64))
    _put(obj, key, json.dumps(p.to_dict()))


def _order_parameter(obj: bpy.types.Object, key: str, how: str) -> Optional[api.OrderParameter]:
    if not has(obj, key):
        return None
    return _reading(obj, key, "order parameter", how, lambda v: api.OrderParameter.from_dict(json.loads(v)))


def store_order_parameter(obj: bpy.types.Object, p: api.OrderParameter) -> None:
    _store_order_parameter(obj, ORDER_PARAMETER, p)


def order_parameter(obj: bpy.types.Object) -> Optional[api.OrderParameter]:
    """The order parameter chosen with Use Order Parameter, or None."""
    return _order_parameter(obj, ORDER_PARAMETER, "Analyze Symmetry and Use Order Parameter again")


def store_learned_order_parameter(obj: bpy.types.Object, p: api.OrderParameter) -> None:
    _store_order_parameter(obj, LEARNED_ORDER_PARAMETER, p)


def learned_order_parameter(obj: bpy.types.Object) -> Optional[api.OrderParameter]:
    """The order parameter found by Learn Order Parameter, or None."""
    return _order_parameter(obj, LEARNED_ORDER_PARAMETER, "Learn Order Parameter again")


def readable(read: Callable[[bpy.types.Object], T], obj: bpy.types.Object) -> tuple[Optional[T], str]:
    """``(read(obj), "")``, or ``(None, the sentence)`` when what is stored is damaged: for the
    panel, which must draw whatever is stored."""
    try:
        return read(obj), ""
    except StoredDataError as error:
        return None, str(error)
