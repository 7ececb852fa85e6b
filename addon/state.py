# SPDX-License-Identifier: GPL-3.0-or-later
"""What training leaves on an object, stored inside the .blend as plain ID properties.

- ``symbreak_model``: the engine checkpoint (npz + JSON, no pickle) as base64 text;
- ``symbreak_loss``: the loss history, a float array;
- ``symbreak_config``: the network settings as JSON text;
- ``symbreak_prediction``: the latest decoded prediction (indices, start, displacements, signals,
  ambiguity and tied peaks), arrays only;
- ``symbreak_target``: the target positions used for training;
- ``symbreak_symmetry``: the latest symmetry analysis (groups, verdict, suggested order parameter)
  and the warning for the inputs it was checked with;
- ``symbreak_order_parameter``: the order parameter used as the symmetry-breaking input;
- ``symbreak_learned_order_parameter``: the order parameter found by gradient descent: its
  coefficients (irreps ``1o+2e+3o+...``), their norm per degree L = 1, 2, ... and a description.

Positions, displacements, signals and order parameters are in the object's local coordinates, so
they stay valid when the object moves. Nothing here is ever unpickled; a saved file carries everything, no external file is needed.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Optional

import bpy
import numpy as np

MODEL = "symbreak_model"
LOSS = "symbreak_loss"
CONFIG = "symbreak_config"
PREDICTION = "symbreak_prediction"
TARGET = "symbreak_target"
SYMMETRY = "symbreak_symmetry"
ORDER_PARAMETER = "symbreak_order_parameter"
LEARNED_ORDER_PARAMETER = "symbreak_learned_order_parameter"


@dataclass(frozen=True)
class StoredPrediction:
    """A decoded prediction in the object's local coordinates, for its ``indices`` vertices."""

    indices: np.ndarray        # (N,) int
    start: np.ndarray          # (N, 3)
    displacements: np.ndarray  # (N, 3)
    signals: np.ndarray        # (N, D)
    ambiguous: np.ndarray      # (N,) bool
    peaks: list[np.ndarray]    # N arrays (k_i, 3)

    @property
    def predicted(self) -> np.ndarray:
        return self.start + self.displacements


@dataclass(frozen=True)
class OrderParameter:
    """A symmetry-breaking input in the object's local axes, of degree ``l`` and parity :math:`(-1)^l`:
    ``coefficients`` ``(2l+1,)`` for one global feature, or ``(N, 2l+1)`` per vertex. A ``learned``
    one is global and holds every degree from 1 to ``l`` in turn (irreps ``1o+2e+3o+...``):
    ``((l+1)^2 - 1,)``, the ``l >= 1`` part of a full signal."""

    l: int
    coefficients: np.ndarray
    description: str
    learned: bool = False

    @property
    def is_global(self) -> bool:
        return self.coefficients.ndim == 1

    @property
    def degrees(self) -> range:
        return range(1 if self.learned else self.l, self.l + 1)

    @property
    def irreps(self) -> str:
        return "+".join(f"{l}{'e' if l % 2 == 0 else 'o'}" for l in self.degrees)

    def blocks(self) -> dict[int, np.ndarray]:
        """The coefficients of each degree, ``(..., 2l+1)``."""
        offset = self.degrees[0] ** 2
        return {l: self.coefficients[..., l * l - offset:(l + 1) ** 2 - offset] for l in self.degrees}

    def shares(self) -> dict[int, float]:
        """Percent of the norm that each degree carries, :math:`100 |c_l| / \\sum_k |c_k|` (they add up to 100)."""
        norms = {l: float(np.linalg.norm(c)) for l, c in self.blocks().items()}
        total = sum(norms.values()) or 1.0
        return {l: 100.0 * norm / total for l, norm in norms.items()}

    def significant(self) -> list[tuple[int, np.ndarray]]:
        """``(l, coefficients)`` of the degrees that matter, the largest first: the one degree of a
        single-degree input; those of a learned one that carry at least 10% of its norm, whatever
        its scale (learning returns it normalised)."""
        if not self.learned:
            return [(self.l, self.coefficients)]
        shares, blocks = self.shares(), self.blocks()
        return [(l, blocks[l]) for l in sorted(blocks, key=shares.__getitem__, reverse=True) if shares[l] >= 10.0]

    def signal(self) -> np.ndarray:
        """A global input as a full signal ``((l+1)^2,)``, zero below its lowest degree."""
        signal = np.zeros((self.l + 1) ** 2)
        signal[self.degrees[0] ** 2:] = self.coefficients
        return signal


def learned_order_parameter_from(coefficients: np.ndarray) -> OrderParameter:
    """The learned global input of ``coefficients`` ``((l+1)^2 - 1,)``, described by the share of
    the norm each degree carries: "learned: L=2 carries 98.9% of the norm (L=1 0.3%, ...)"."""
    c = np.asarray(coefficients, dtype=np.float64)
    found = OrderParameter(int(round(np.sqrt(len(c) + 1))) - 1, c, "", learned=True)
    shares = found.shares()
    top = max(shares, key=shares.__getitem__)
    others = ", ".join(f"L={l} {share:.1f}%" for l, share in shares.items() if l != top)
    return dataclasses.replace(found, description=f"learned: L={top} carries {shares[top]:.1f}% of the norm"
                                                  + (f" ({others})" if others else ""))


def has_model(obj: Optional[bpy.types.Object]) -> bool:
    return obj is not None and MODEL in obj.keys()


def has_prediction(obj: Optional[bpy.types.Object]) -> bool:
    return obj is not None and PREDICTION in obj.keys()


def store_model(obj: bpy.types.Object, blob: bytes, loss_history: np.ndarray, config: dict[str, Any]) -> None:
    obj[MODEL] = base64.b64encode(blob).decode("ascii")
    obj[LOSS] = np.asarray(loss_history, dtype=np.float64)
    obj[CONFIG] = json.dumps(config)


def model_bytes(obj: bpy.types.Object) -> bytes:
    return base64.b64decode(obj[MODEL])


def loss_history(obj: bpy.types.Object) -> np.ndarray:
    return np.array(obj[LOSS], dtype=np.float64) if LOSS in obj.keys() else np.zeros(0)


def store_target(obj: bpy.types.Object, local: np.ndarray) -> None:
    obj[TARGET] = np.asarray(local, dtype=np.float64).ravel()


def target(obj: bpy.types.Object) -> Optional[np.ndarray]:
    return np.array(obj[TARGET], dtype=np.float64).reshape(-1, 3) if TARGET in obj.keys() else None


def store_prediction(obj: bpy.types.Object, p: StoredPrediction) -> None:
    counts = np.array([len(k) for k in p.peaks], dtype=np.int32)
    flat = np.concatenate([np.asarray(k, dtype=np.float64).reshape(-1, 3) for k in p.peaks]) \
        if len(p.peaks) else np.zeros((0, 3))
    obj[PREDICTION] = {
        "indices": np.asarray(p.indices, dtype=np.int32),
        "start": np.asarray(p.start, dtype=np.float64).ravel(),
        "displacements": np.asarray(p.displacements, dtype=np.float64).ravel(),
        "signals": np.asarray(p.signals, dtype=np.float64).ravel(),
        "signal_dim": int(p.signals.shape[1]),
        "ambiguous": np.asarray(p.ambiguous, dtype=np.int32),
        "peak_counts": counts,
        "peaks": flat.ravel() if flat.size else np.zeros(0),
    }


def prediction(obj: bpy.types.Object) -> StoredPrediction:
    g = obj[PREDICTION]
    n = len(g["indices"])

    def arr(name: str, dtype: Any = np.float64) -> np.ndarray:
        return np.array(g[name], dtype=dtype)  # a copy: the ID property may be replaced

    counts = arr("peak_counts", np.int64)
    flat = arr("peaks").reshape(-1, 3)
    peaks = np.split(flat, np.cumsum(counts)[:-1]) if n else []
    return StoredPrediction(
        indices=arr("indices", np.int64),
        start=arr("start").reshape(n, 3),
        displacements=arr("displacements").reshape(n, 3),
        signals=arr("signals").reshape(n, int(g["signal_dim"])),
        ambiguous=arr("ambiguous", np.int64).astype(bool),
        peaks=list(peaks),
    )


def store_symmetry(obj: bpy.types.Object, record: dict[str, Any]) -> None:
    """Keep a symmetry analysis: ``engine.symmetry.analyze``'s result plus ``inputs`` and ``warning``
    (the inputs it was checked with, and "" if they make the task learnable). The per-point order
    parameter is left out; a missing key stands for None."""
    obj[SYMMETRY] = {k: v for k, v in record.items() if v is not None and k != "point_order_parameter"}


def symmetry(obj: Optional[bpy.types.Object]) -> Optional[dict[str, Any]]:
    return obj[SYMMETRY].to_dict() if obj is not None and SYMMETRY in obj.keys() else None


def suggested_order_parameter(obj: Optional[bpy.types.Object]) -> Optional[OrderParameter]:
    """The global order parameter of the latest symmetry analysis, if it found one."""
    found = (symmetry(obj) or {}).get("order_parameter")
    if found is None:
        return None
    return OrderParameter(int(found["l"]), np.array(found["coefficients"], dtype=np.float64), found["description"])


def store_order_parameter(obj: bpy.types.Object, p: OrderParameter) -> None:
    obj[ORDER_PARAMETER] = {"l": int(p.l), "coefficients": np.asarray(p.coefficients, dtype=np.float64),
                            "description": p.description}


def order_parameter(obj: bpy.types.Object) -> Optional[OrderParameter]:
    if ORDER_PARAMETER not in obj.keys():
        return None
    g = obj[ORDER_PARAMETER]
    return OrderParameter(int(g["l"]), np.array(g["coefficients"], dtype=np.float64), str(g["description"]))


def store_learned_order_parameter(obj: bpy.types.Object, p: OrderParameter) -> None:
    norms = [float(np.linalg.norm(c)) for c in p.blocks().values()]
    obj[LEARNED_ORDER_PARAMETER] = {"irreps": p.irreps, "coefficients": np.asarray(p.coefficients, dtype=np.float64),
                                    "norms": np.asarray(norms), "description": p.description}


def learned_order_parameter(obj: bpy.types.Object) -> Optional[OrderParameter]:
    if LEARNED_ORDER_PARAMETER not in obj.keys():
        return None
    g = obj[LEARNED_ORDER_PARAMETER]
    return OrderParameter(len(g["norms"]), np.array(g["coefficients"], dtype=np.float64), str(g["description"]),
                          learned=True)


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: np.ndarray, width: int = 32) -> str:
    """A text sparkline of ``log10(values)``, ``width`` characters wide."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values) & (values > 0)]
    if len(values) == 0:
        return ""
    idx = np.linspace(0, len(values) - 1, min(width, len(values))).round().astype(int)
    y = np.log10(values[idx])
    span = y.max() - y.min()
    level = np.zeros_like(y) if span == 0 else (y - y.min()) / span
    return "".join(_BARS[int(round(v * (len(_BARS) - 1)))] for v in level)
