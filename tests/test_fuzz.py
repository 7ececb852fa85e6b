"""Fuzzing the two ways data comes in: stored models and command-line point files.

Whatever the damage, the answer is a model, one ``CheckpointError`` (one line), or for the
command line exit status 2 with one line on stderr; never another exception. Bounded in time
by hypothesis's settings.
"""

import io
import json
import zipfile

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import checkpoint
from engine.checkpoint import CheckpointError
from engine.cli import main
from engine.config import ModelConfig
from engine.features import Features
from engine.network import Network

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _model_bytes() -> bytes:
    torch.manual_seed(0)
    return checkpoint.to_bytes(Network(ModelConfig(lmax=1, radial_neurons=4, layers=2)), Features.scalar(3))


MODEL = _model_bytes()


def loads_or_refuses(data: bytes) -> None:
    try:
        checkpoint.from_bytes(data)
    except CheckpointError as error:
        assert "\n" not in str(error) and len(str(error)) < 400


@FUZZ
@given(st.lists(st.integers(0, 8 * len(MODEL) - 1), min_size=1, max_size=8))
def test_bit_flips(bits):
    data = bytearray(MODEL)
    for bit in bits:
        data[bit // 8] ^= 1 << bit % 8
    loads_or_refuses(bytes(data))


@FUZZ
@given(st.integers(0, len(MODEL)), st.binary(max_size=64))
def test_truncation_and_garbage(cut, tail):
    loads_or_refuses(MODEL[:cut] + tail)


@FUZZ
@given(st.dictionaries(st.text("abcxyz_/.", min_size=1, max_size=12).filter(lambda name: not name.endswith("/")),
                       st.binary(max_size=256), max_size=6),
       st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]))
def test_crafted_members(members, method):
    """Archives of arbitrary members, real ones replaced by random bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(MODEL)) as good, zipfile.ZipFile(buffer, "w", method) as out:
        for info in good.infolist():
            out.writestr(info.filename, members.pop(info.filename.removesuffix(".npy"), good.read(info)))
        for name, data in members.items():
            out.writestr(name, data)
    loads_or_refuses(buffer.getvalue())


@FUZZ
@given(st.text(max_size=200))
def test_stored_text(text):
    try:
        checkpoint.from_text(text)
    except CheckpointError as error:
        assert "\n" not in str(error)


POINT_FILE = st.one_of(
    st.tuples(st.just(".json"), st.recursive(st.none() | st.booleans() | st.floats() | st.integers()
                                             | st.text(max_size=5), lambda inner: st.lists(inner, max_size=5),
                                             max_leaves=30)
              .map(lambda value: json.dumps(value).encode())),
    st.tuples(st.just(".json"), st.binary(max_size=200)),
    st.tuples(st.just(".npy"), st.binary(max_size=200)),
    st.tuples(st.just(".npy"), st.tuples(st.integers(0, 200), st.binary(max_size=64)).map(
        lambda cut_tail: _npy_bytes()[:cut_tail[0]] + cut_tail[1])),
)


def _npy_bytes() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.eye(3))
    return buffer.getvalue()


@FUZZ
@given(POINT_FILE)
def test_cli_point_files(tmp_path_factory, file):
    suffix, content = file
    folder = tmp_path_factory.mktemp("fuzz")
    start, target = folder / f"start{suffix}", folder / "target.npy"
    start.write_bytes(content)
    np.save(target, np.eye(3))
    capture = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", capture)
        patch.setattr("sys.stdout", io.StringIO())
        code = main(["analyze", "--start", str(start), "--target", str(target), "--json"])
    assert code in (0, 2)
    if code == 2:
        assert capture.getvalue().startswith("error: ") and capture.getvalue().count("\n") == 1
