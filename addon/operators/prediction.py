# SPDX-License-Identifier: GPL-3.0-or-later
"""Predict: the stored model on the current vertices, in a background job."""

from __future__ import annotations

from typing import Optional

import bpy
import numpy as np

from ...engine import api
from .. import inputs, jobs, props, storage
from ..build import objects, surfaces
from .base import BackgroundOperator

# Predict runs in float32 above this many points, which halves its time and memory.
FLOAT32_ABOVE = 4000


def stored(src: inputs.Source, p: api.Prediction) -> storage.StoredPrediction:
    """An engine prediction of the source's vertices, as it is stored (``ValueError`` when any of
    it is not finite: nothing non-finite reaches Blender data)."""
    try:
        return storage.StoredPrediction(
            indices=src.indices, start=src.start, displacements=np.asarray(p.displacements),
            signals=np.asarray(p.signals), ambiguous=np.asarray(p.ambiguous, dtype=bool),
            peaks=[np.asarray(k) for k in p.peaks], vertex_count=src.vertex_count, fingerprint=src.fingerprint)
    except ValueError as error:
        raise ValueError(f"The model's output for {src.obj.name!r} is unusable ({error}): train again") from None


def keep_prediction(context: bpy.types.Context, obj: bpy.types.Object, p: storage.StoredPrediction) -> None:
    """Store ``p`` on ``obj`` and redraw the signal surfaces it shows, if any, so that none shows
    an older prediction (they are removed when the new one has too many to draw)."""
    storage.store_prediction(obj, p)
    if objects.child(obj, 'SIGNALS') is None:
        return
    d = props.settings(context).display
    try:
        inputs.check_surface_size(len(p.indices), d.signal_level)
        surfaces.build_signals(obj, p, scale=inputs.finite_setting("Signal Scale", d.signal_scale),
                               level=d.signal_level)
    except ValueError:
        objects.remove_object(objects.child(obj, 'SIGNALS'))


def _irreps(text: str) -> str:
    return "+".join(term.strip().removeprefix("1x") for term in text.split("+"))


def check_graph(radius: Optional[float], positions: np.ndarray, trained_on: Optional[int]) -> None:
    """``ValueError`` when the graph the model keeps from its training (all pairs, ``radius`` None,
    or a radius graph), whatever the Graph setting says now, cannot take ``positions``: more than
    ``api.MAX_ALL_PAIRS`` vertices for all pairs, more than ``api.MAX_EDGES`` edges for a radius.
    The message says what helps."""
    count = len(positions)
    if radius is None and count > api.MAX_ALL_PAIRS:
        on = "" if trained_on is None else f" on {trained_on} vertices"
        raise ValueError(f"The model was trained{on} with all pairs as its graph and keeps it, so it cannot predict "
                         f"{count} vertices (all pairs take at most {api.MAX_ALL_PAIRS}): predict at most "
                         f"{api.MAX_ALL_PAIRS} (select them in Edit Mode), or train again with Graph set to Radius "
                         f"(Automatic takes all pairs up to {api.MAX_ALL_PAIRS} vertices)")
    if radius is not None and (edges := api.count_edges(positions, radius)) > api.MAX_EDGES:
        raise ValueError(f"The model keeps the graph radius {radius:.3g} it was trained with, which links about "
                         f"{edges:,} edges among {count:,} vertices, more than the {api.MAX_EDGES:,} a prediction "
                         "can hold: predict fewer vertices (select them in Edit Mode), or train again with a "
                         "smaller Radius")


def predict(model: bytes, positions: np.ndarray, order_parameter: Optional[api.OrderParameter],
            types: Optional[np.ndarray], dtype: str, progress: jobs.Progress, cancel: jobs.Cancel,
            trained_on: Optional[int] = None) -> api.Prediction:
    """The prediction job: the stored model must take the source's current input (the engine
    checks the types), on its own graph."""
    api.load()
    summary = api.model_summary(model)
    trained_with = _irreps(summary["order_parameter_irreps"]) or "none"
    given = "none" if order_parameter is None else _irreps(order_parameter.irreps)
    if trained_with != given:
        raise ValueError(f"Input features changed since training: the model was trained with the order parameter "
                         f"{trained_with}, but Symmetry Breaking now gives {given}: set it back, or train again")
    check_graph(summary["config"]["radius"], positions, trained_on)
    return api.predict(model, positions, order_parameter=order_parameter, types=types, dtype=dtype,
                       progress=progress, cancel=cancel)


class SYMBREAK_OT_predict(BackgroundOperator):
    """Run the stored model on the current vertices, without retraining (Esc cancels)"""

    bl_idname = "symbreak.predict"
    bl_label = "Predict"

    what = 'predicting'
    doing = "predicting"
    _source: Optional[inputs.Source] = None

    def prepare(self, context: bpy.types.Context) -> tuple[bpy.types.Object, jobs.Work, int]:
        """The source, its input and the stored model; float32 above ``FLOAT32_ABOVE`` points."""
        src = inputs.source(context)
        inputs.check_editable(src.obj)
        if not storage.has_model(src.obj):
            raise ValueError(f"{src.obj.name!r} has no trained model")
        model, order_parameter = storage.model_bytes(src.obj), inputs.breaking(src)
        target, _ = storage.readable(storage.target, src.obj)
        trained_on = None if target is None else len(target)
        dtype = "float32" if len(src.indices) > FLOAT32_ABOVE else "float64"
        self._source = src
        return src.obj, lambda progress, cancel: predict(model, src.start, order_parameter, src.types, dtype,
                                                         progress, cancel, trained_on), 2

    def running(self, job: jobs.Job) -> str:
        assert self._source is not None
        return f"SymBreak: predicting {len(self._source.indices)} vertices of {self._source.obj.name} (Esc to cancel)"

    def keep(self, context: bpy.types.Context, result: api.Prediction) -> None:
        src = self._source
        assert src is not None
        keep_prediction(context, src.obj, stored(src, result))
        tied = int(np.count_nonzero(result.ambiguous))
        self.report({'INFO'}, f"Predicted {len(src.indices)} vertices of {src.obj.name!r}"
                              + (f", {tied} with tied peaks" if tied else ""))


CLASSES = [SYMBREAK_OT_predict]
