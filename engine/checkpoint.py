"""Self-describing model files that can never execute code when loaded.

A checkpoint is an ``.npz`` archive of plain arrays read with ``allow_pickle=False``:

- ``header``: a JSON string with the format name, version, :class:`ModelConfig`, input irreps,
  the vertex types the model was trained on (``types``, absent or ``[]`` for none) and the
  parameter names;
- ``parameter/<name>``: each network parameter (buffers are rebuilt from the config);
- ``features``: the input features the model was trained with.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import lzma
import math
import os
import struct
import zipfile
import zlib

import numpy as np
import torch

from .config import MAX_CHANNELS, ModelConfig
from .features import MAX_TYPES, Features
from .network import Network

__all__ = ["CheckpointError", "to_bytes", "from_bytes", "to_text", "from_text", "text_to_bytes", "save", "load"]

FORMAT = "symbreak.model"
VERSION = 1

# What a stored model may hold, checked from the zip and .npy headers before anything is
# decompressed or built. The largest model they allow (8 layers, lmax 8, radial MLPs of
# 8 x 256) has 4.2M parameters (34 MB) and builds in about 1.5 s.
MAX_MODEL_BYTES = 64 * 2**20  # the stored file
MAX_MEMBERS = 32  # archive members: header, features and one per parameter tensor (at most 18)
MAX_MEMBER_BYTES = 64 * 2**20  # one member, uncompressed
MAX_TOTAL_BYTES = 128 * 2**20  # all members, uncompressed
MAX_COMPRESSION_RATIO = 1100  # deflate cannot exceed about 1032:1, so more means a forged size
MAX_HEADER_CHARS = 65536
MAX_LAYERS = 8
MAX_RADIAL_LAYERS = 8
MAX_RADIAL_NEURONS = 256
MAX_BASIS = 32
MAX_INPUT_CHANNELS = 32  # sum of the input irreps' multiplicities
MAX_LENGTH = 1e12  # max_radius, radius and unit, in the points' units
MAX_PARAMETER = 1e6  # largest magnitude of a stored parameter or feature

_INTEGER_SETTINGS = {"lmax": (1, 8), "layers": (1, MAX_LAYERS), "number_of_basis": (2, MAX_BASIS),
                     "radial_neurons": (1, MAX_RADIAL_NEURONS), "radial_layers": (0, MAX_RADIAL_LAYERS)}
# what a damaged archive raises from zipfile, zlib, lzma, bz2 and numpy's .npy reader
_DAMAGE = (OSError, ValueError, EOFError, KeyError, TypeError, RuntimeError, NotImplementedError, zipfile.BadZipFile,
           zlib.error, lzma.LZMAError, struct.error, OverflowError, UnicodeError, MemoryError, RecursionError,
           SyntaxError, IndexError, AttributeError)


class CheckpointError(ValueError):
    """The data is not a SymBreak model this version can read."""


def to_bytes(model: Network, features: Features) -> bytes:
    """Serialise a trained model and its input features."""
    parameters = {name: p.detach().cpu().double().numpy() for name, p in model.named_parameters()}
    header = {"format": FORMAT, "version": VERSION, "config": model.config.to_dict(),
              "irreps_in": str(model.irreps_in), "features_irreps": features.irreps,
              "types": list(features.types), "parameters": sorted(parameters)}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, header=np.array(json.dumps(header)), features=features.values,
                        **{f"parameter/{name}": value for name, value in parameters.items()})
    return buffer.getvalue()


def to_text(model: Network, features: Features) -> str:
    """:func:`to_bytes` as base64 ASCII text, for storing in a text property."""
    return base64.b64encode(to_bytes(model, features)).decode("ascii")


def from_text(text: str) -> tuple[Network, Features]:
    """Read what :func:`to_text` wrote; anything else raises :class:`CheckpointError`."""
    return from_bytes(text_to_bytes(text))


def text_to_bytes(text: str) -> bytes:
    """The model bytes in base64 ``text``, or :class:`CheckpointError` for text that is not
    base64 or is longer than a model may be."""
    if not isinstance(text, str):
        raise CheckpointError(f"A stored SymBreak model is base64 text, got {type(text).__name__}")
    if len(text) > 4 * MAX_MODEL_BYTES // 3 + 4:
        raise CheckpointError(f"The stored SymBreak model text is longer than {MAX_MODEL_BYTES // 2**20} MiB allow")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise CheckpointError(f"The stored SymBreak model text is damaged (not base64: {error})") from None


def from_bytes(data: bytes) -> tuple[Network, Features]:
    """Read what :func:`to_bytes` wrote; anything else raises :class:`CheckpointError`.

    Every size is checked against the bounds above from the zip and ``.npy`` headers, and
    every setting from the JSON header, before a member is decompressed or the network built.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CheckpointError(f"A SymBreak model is bytes, got {type(data).__name__}")
    if len(data) > MAX_MODEL_BYTES:
        raise CheckpointError(f"Not a SymBreak model: {len(data):,} bytes, more than the "
                              f"{MAX_MODEL_BYTES // 2**20} MiB a model may have")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = _members(archive)
            header = _header(_read(archive, members["header"], "U"))
            model = Network(_config(header), header["irreps_in"])
            state = dict(model.named_parameters())
            if sorted(state) != header["parameters"] or set(members) != {"header", "features", *(
                    f"parameter/{name}" for name in state)}:
                raise CheckpointError("Damaged SymBreak model (its parameters do not match its configuration)")
            stored = {name: _read(archive, members[f"parameter/{name}"], "f", tuple(state[name].shape))
                      for name in state}
            features = _read(archive, members["features"], "f", (None, model.irreps_in.dim))
    except CheckpointError:
        raise
    except _DAMAGE as error:
        detail = f"{type(error).__name__}: {error}"[:200].replace("\n", " ")
        raise CheckpointError(f"Not a SymBreak model, or a damaged one (it cannot be read: {detail})") from None
    for name, value in [*stored.items(), ("features", features)]:
        if not np.isfinite(value).all() or np.abs(value).max(initial=0.0) > MAX_PARAMETER:
            raise CheckpointError(f"Damaged SymBreak model ({name} holds values that are not finite or "
                                  f"larger than {MAX_PARAMETER:g})")
    with torch.no_grad():
        for name, parameter in state.items():
            parameter.copy_(torch.as_tensor(stored[name]))
    try:
        return model, Features(header["features_irreps"], features, header["types"])
    except ValueError as error:
        raise CheckpointError(f"Damaged SymBreak model ({error})") from None


def _members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by array name, each within the bounds by its zip header."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise CheckpointError(f"Not a SymBreak model: {len(infos)} archive members, more than {MAX_MEMBERS}")
    members, total = {}, 0
    for info in infos:
        name = info.filename.removesuffix(".npy")
        if not info.filename.endswith(".npy") or name in members:
            raise CheckpointError(f"Not a SymBreak model (archive member {info.filename[:80]!r} is not one array)")
        if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CheckpointError(f"Not a SymBreak model (member {name[:80]!r} is encrypted or compressed "
                                  f"with method {info.compress_type}, not deflate)")
        ratio = info.file_size / max(info.compress_size, 1)
        stored_size_differs = info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size
        if info.file_size > MAX_MEMBER_BYTES or ratio > MAX_COMPRESSION_RATIO or stored_size_differs:
            raise CheckpointError(f"Not a SymBreak model (member {name[:80]!r} claims {info.file_size:,} bytes "
                                  f"from {info.compress_size:,}; at most {MAX_MEMBER_BYTES // 2**20} MiB and "
                                  f"{MAX_COMPRESSION_RATIO}:1 are allowed)")
        total += info.file_size
        members[name] = info
    if total > MAX_TOTAL_BYTES:
        raise CheckpointError(f"Not a SymBreak model ({total:,} bytes uncompressed, more than "
                              f"{MAX_TOTAL_BYTES // 2**20} MiB)")
    if "header" not in members or "features" not in members:
        raise CheckpointError("Not a SymBreak model (no header or no features)")
    return members


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, kind: str, shape: tuple | None = None) -> np.ndarray:
    """One member's array, after its ``.npy`` header: little-endian float64 of ``shape``
    (``None`` for any length) for ``kind`` 'f', a 0-d unicode string for 'U'."""
    name = info.filename.removesuffix(".npy")
    with archive.open(info) as file:
        version = np.lib.format.read_magic(file)
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise CheckpointError(f"Not a SymBreak model ({name[:80]!r} has .npy version {version})")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        array_shape, fortran, dtype = read_header(file)  # headers over 10,000 bytes raise ValueError
        expected = np.dtype("<f8") if kind == "f" else None
        wrong_dtype = dtype != expected if expected else dtype.kind != "U" or dtype.itemsize > 4 * MAX_HEADER_CHARS
        wrong_shape = (array_shape != () if shape is None else len(array_shape) != len(shape)
                       or any(s is not None and a != s for a, s in zip(array_shape, shape)))
        size = math.prod(array_shape) * dtype.itemsize
        if wrong_dtype or wrong_shape or file.tell() + size != info.file_size:
            expected_shape = "()" if shape is None else str(tuple("N" if s is None else s for s in shape))
            raise CheckpointError(f"Damaged SymBreak model ({name[:80]!r} is {dtype} {array_shape}, expected "
                                  f"{'float64' if kind == 'f' else 'a text'} of shape {expected_shape})")
        raw = file.read(size)
        if len(raw) != size or file.read(1):
            raise CheckpointError(f"Damaged SymBreak model ({name[:80]!r} is truncated)")
    return np.frombuffer(raw, dtype).reshape(array_shape, order="F" if fortran else "C").copy()


def _header(array: np.ndarray) -> dict:
    """The JSON header with its format and version checked."""
    try:
        header = json.loads(str(array[()]))
    except (ValueError, RecursionError) as error:
        raise CheckpointError(f"Not a SymBreak model (unreadable header: {type(error).__name__})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError("Not a SymBreak model (wrong format name)")
    if header.get("version") != VERSION:
        raise CheckpointError(f"SymBreak model version {str(header.get('version'))[:20]} is not supported "
                              f"(expected {VERSION})")
    irreps, parameters = header.get("irreps_in"), header.get("parameters")
    if not (isinstance(irreps, str) and isinstance(header.get("features_irreps"), str) and isinstance(parameters, list)
            and all(isinstance(p, str) for p in parameters)):
        raise CheckpointError("Damaged SymBreak model (irreps or parameter names are not text)")
    types = header.setdefault("types", [])
    if not (isinstance(types, list) and len(types) <= MAX_TYPES
            and all(type(t) is int and abs(t) < 2**63 for t in types)):
        raise CheckpointError(f"Damaged SymBreak model (its types must be at most {MAX_TYPES} integers)")
    if _irreps(irreps) != _irreps(header["features_irreps"]):
        raise CheckpointError(f"Damaged SymBreak model (features {header['features_irreps'][:40]!r} "
                              f"differ from the input irreps {irreps[:40]!r})")
    return header


def _irreps(irreps: str):
    """Input irreps such as ``"0e+2e"``, parsed: at most :data:`MAX_INPUT_CHANNELS` channels of degree <= 8."""
    from e3nn import o3

    if len(irreps) > 200:
        raise CheckpointError(f"Damaged SymBreak model (input irreps of {len(irreps)} characters)")
    try:
        parsed = o3.Irreps(irreps)
    except (ValueError, AssertionError, TypeError):
        raise CheckpointError(f"Damaged SymBreak model (input irreps {irreps[:40]!r} cannot be read)") from None
    channels = sum(mul for mul, _ in parsed)
    if channels > MAX_INPUT_CHANNELS or any(ir.l > 8 for _, ir in parsed) or channels == 0:
        raise CheckpointError(f"Damaged SymBreak model (input irreps {irreps[:40]!r}: 1 to {MAX_INPUT_CHANNELS} "
                              f"channels of degree at most 8 are allowed)")
    return parsed


def _config(header: dict) -> ModelConfig:
    """The stored :class:`ModelConfig`, every setting of the right type and within its bound."""
    config = header.get("config")
    if not isinstance(config, dict):
        raise CheckpointError("Damaged SymBreak model (no configuration)")
    unknown = set(config) - set(ModelConfig.__dataclass_fields__)
    if unknown:
        raise CheckpointError(f"Damaged SymBreak model (unknown settings {sorted(unknown)[:3]})")
    for name, (low, high) in _INTEGER_SETTINGS.items():
        value = config.get(name, getattr(ModelConfig, name))
        if type(value) is not int or not low <= value <= high:
            raise CheckpointError(f"Damaged SymBreak model ({name} must be an integer in {low}..{high}, "
                                  f"got {str(value)[:20]})")
    for name in ("max_radius", "radius", "unit"):
        value = config.get(name, getattr(ModelConfig, name))
        if value is None and name != "unit":
            continue
        if type(value) not in (int, float) or not 0 < value <= MAX_LENGTH:
            raise CheckpointError(f"Damaged SymBreak model ({name} must be a number in (0, {MAX_LENGTH:g}]"
                                  f"{' or none' if name != 'unit' else ''}, got {str(value)[:20]})")
    if config.get("output", ModelConfig.output) not in ("signal", "vector"):
        raise CheckpointError("Damaged SymBreak model (output must be 'signal' or 'vector')")
    if type(config.setdefault("hub", False)) is not bool:  # models saved before the hub have none
        raise CheckpointError("Damaged SymBreak model (hub must be true or false)")
    channels = config.setdefault("channels", 1)  # models saved before channels have the seed's one
    if channels is not None and (type(channels) is not int or not 1 <= channels <= MAX_CHANNELS):
        raise CheckpointError(f"Damaged SymBreak model (channels must be an integer in 1..{MAX_CHANNELS}, "
                              f"got {str(channels)[:20]})")
    return ModelConfig(**config)


def save(path: str | os.PathLike, model: Network, features: Features) -> None:
    with open(path, "wb") as file:
        file.write(to_bytes(model, features))


def load(path: str | os.PathLike) -> tuple[Network, Features]:
    with open(path, "rb") as file:
        return from_bytes(file.read())
