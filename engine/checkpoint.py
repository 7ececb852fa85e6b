"""Self-describing model files that can never execute code when loaded.

A checkpoint is an ``.npz`` archive of plain arrays read with ``allow_pickle=False``:

- ``header``: a JSON string with the format name, version, :class:`ModelConfig`, input irreps
  and the parameter names;
- ``parameter/<name>``: each network parameter (buffers are rebuilt from the config);
- ``features``: the input features the model was trained with.
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import torch

from .config import ModelConfig
from .features import Features
from .network import Network

__all__ = ["CheckpointError", "to_bytes", "from_bytes", "save", "load"]

FORMAT = "symbreak.model"
VERSION = 1


class CheckpointError(ValueError):
    """The data is not a SymBreak model this version can read."""


def to_bytes(model: Network, features: Features) -> bytes:
    """Serialise a trained model and its input features."""
    parameters = {name: p.detach().cpu().double().numpy() for name, p in model.named_parameters()}
    header = {"format": FORMAT, "version": VERSION, "config": model.config.to_dict(),
              "irreps_in": str(model.irreps_in), "features_irreps": features.irreps,
              "parameters": sorted(parameters)}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, header=np.array(json.dumps(header)), features=features.values,
                        **{f"parameter/{name}": value for name, value in parameters.items()})
    return buffer.getvalue()


def from_bytes(data: bytes) -> tuple[Network, Features]:
    """Read what :func:`to_bytes` wrote; anything else raises :class:`CheckpointError`."""
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise CheckpointError("Not a SymBreak model (a single array, not an archive)")
        with archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        if isinstance(error, CheckpointError):
            raise
        raise CheckpointError(f"Not a SymBreak model (it cannot be read as plain arrays: {error})") from None
    if not all(isinstance(a, np.ndarray) for a in arrays.values()) or "header" not in arrays:
        raise CheckpointError("Not a SymBreak model (no header, or members that are not arrays)")
    try:
        header = json.loads(str(arrays["header"]))
    except json.JSONDecodeError as error:
        raise CheckpointError(f"Not a SymBreak model (unreadable header: {error})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError("Not a SymBreak model (wrong format name)")
    if header.get("version") != VERSION:
        raise CheckpointError(f"SymBreak model version {header.get('version')} is not supported (expected {VERSION})")
    try:
        model = Network(ModelConfig(**header["config"]), header["irreps_in"])
        state = dict(model.named_parameters())
        if sorted(state) != header["parameters"]:
            raise CheckpointError("The model's parameters do not match its configuration")
        stored = {name: arrays[f"parameter/{name}"] for name in state}
        for name, value in stored.items():
            if value.shape != tuple(state[name].shape) or not np.isfinite(value).all():
                raise CheckpointError(f"Damaged SymBreak model (parameter {name} has shape {value.shape}, "
                                      f"expected {tuple(state[name].shape)}, or non-finite values)")
        with torch.no_grad():
            for name, parameter in state.items():
                parameter.copy_(torch.as_tensor(stored[name]))
        features = Features(header["features_irreps"], arrays["features"])
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"Damaged SymBreak model ({type(error).__name__}: {error})") from None
    return model, features


def save(path: str | os.PathLike, model: Network, features: Features) -> None:
    with open(path, "wb") as file:
        file.write(to_bytes(model, features))


def load(path: str | os.PathLike) -> tuple[Network, Features]:
    with open(path, "rb") as file:
        return from_bytes(file.read())
