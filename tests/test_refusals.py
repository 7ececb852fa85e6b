"""Bounded work and clean refusals: every size is checked before work starts, every damaged
input gives one clear error, and nothing non-finite comes out."""

import base64
import io
import json
import struct
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
import torch

from engine import checkpoint, graph, signals, symmetry
from engine import graph_size as geometry
from engine.checkpoint import CheckpointError
from engine.cli import main
from engine.config import ModelConfig
from engine.errors import Cancelled
from engine.features import Features
from engine.network import Network
from engine.prediction import predict
from engine.signals import sphere_grid
from engine.validation import check_problem


@pytest.fixture(scope="module")
def model_bytes():
    torch.manual_seed(0)
    model = Network(ModelConfig(lmax=2, radial_neurons=8, layers=2), "0e")
    return checkpoint.to_bytes(model, Features.scalar(4))


def arrays_of(data):
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def archive(members, compression=zipfile.ZIP_DEFLATED):
    """A zip of ``name -> array`` written as .npy members with the given compression."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as out:
        for name, array in members.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
            out.writestr(f"{name}.npy", member.getvalue())
    return buffer.getvalue()


def with_header(data, **changes):
    arrays = arrays_of(data)
    header = json.loads(str(arrays["header"]))
    header.update(changes)
    arrays["header"] = np.array(json.dumps(header))
    return archive(arrays)


def with_config(data, **changes):
    header = json.loads(str(arrays_of(data)["header"]))
    return with_header(data, config={**header["config"], **changes})


def patched_central_directory(data, member, **fields):
    """``data`` with one member's central-directory entry changed: ``flags``, ``method`` or
    ``size`` (the uncompressed size it claims)."""
    data = bytearray(data)
    offsets = {"flags": (8, "<H"), "method": (10, "<H"), "size": (24, "<I")}
    start = 0
    while (start := data.find(b"PK\x01\x02", start)) >= 0:
        name_length = struct.unpack_from("<H", data, start + 28)[0]
        if data[start + 46:start + 46 + name_length] == member.encode():
            for field, value in fields.items():
                offset, form = offsets[field]
                struct.pack_into(form, data, start + offset, value)
            return bytes(data)
        start += 4
    raise AssertionError(f"no member {member}")


def bomb(member_bytes):
    """A model whose features member inflates to ``member_bytes`` zeros from a few hundred KB."""
    buffer = io.BytesIO()
    rows = member_bytes // 8
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (rows, 1)})
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        good = arrays_of(checkpoint.to_bytes(Network(ModelConfig(lmax=1, radial_neurons=2, layers=1)),
                                             Features.scalar(2)))
        for name, array in good.items():
            if name != "features":
                member = io.BytesIO()
                np.lib.format.write_array(member, array)
                out.writestr(f"{name}.npy", member.getvalue())
        with out.open("features.npy", "w", force_zip64=True) as stream:
            stream.write(header.getvalue())
            zeros = bytes(2**24)
            for _ in range(rows * 8 // len(zeros)):
                stream.write(zeros)
    return buffer.getvalue()


def refused(data, match=None):
    """``from_bytes`` raises one CheckpointError with a one-line message naming SymBreak."""
    with pytest.raises(CheckpointError, match=match) as error:
        checkpoint.from_bytes(data)
    message = str(error.value)
    assert "SymBreak model" in message and "\n" not in message and len(message) < 400
    return message


# --- checkpoints: bounds from the headers, before anything is decompressed or built ----------


def test_compressed_bomb_refused_without_inflating():
    """A 1.3 MB model with a 1 GiB member: refused from the zip header, allocating little."""
    data = bomb(2**30)
    assert len(data) < 2 * 2**20
    tracemalloc.start()
    refused(data, "claims")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 * 2**20


def test_forged_size_refused(model_bytes):
    """A member claiming 4 GB from a few bytes (beyond what deflate can do) is refused."""
    refused(patched_central_directory(model_bytes, "features.npy", size=0xFFFFFFF0), "claims")


@pytest.mark.parametrize("fields, match", [({"flags": 1}, "encrypted"), ({"method": 99}, "method 99")])
def test_encrypted_or_unknown_compression_refused(model_bytes, fields, match):
    refused(patched_central_directory(model_bytes, "header.npy", **fields), match)


def test_lzma_members_refused(model_bytes):
    refused(archive(arrays_of(model_bytes), zipfile.ZIP_LZMA), "method 14")


def test_too_many_members_refused(model_bytes):
    extra = {f"extra{k}": np.zeros(1) for k in range(checkpoint.MAX_MEMBERS)}
    refused(archive({**arrays_of(model_bytes), **extra}), "members")


@pytest.mark.parametrize("setting, value", [
    ("layers", 10**6), ("radial_neurons", 30000), ("number_of_basis", 10**7), ("radial_layers", 100),
    ("lmax", 99), ("layers", "3"), ("layers", 3.0), ("layers", True), ("lmax", None),
    ("max_radius", "3.0"), ("max_radius", float("nan")), ("max_radius", float("inf")), ("max_radius", 1e300),
    ("max_radius", -1.0), ("radius", "x"), ("radius", float("nan")), ("radius", 0.0), ("output", 7),
])
def test_absurd_or_mistyped_settings_refused_quickly(model_bytes, setting, value):
    """Each setting is checked for its type and bound before the network is built (today
    ``layers: 10**6`` never finishes and ``radial_neurons: 30000`` passes 6 GB)."""
    began = time.perf_counter()
    message = refused(with_config(model_bytes, **{setting: value}))
    assert setting in message
    assert time.perf_counter() - began < 30  # generous: the refusal itself takes milliseconds


@pytest.mark.parametrize("irreps", ["20000x0e", "0e+20e", "", "x" * 1000, "0e+" * 400 + "0e"])
def test_absurd_input_irreps_refused(model_bytes, irreps):
    refused(with_header(model_bytes, irreps_in=irreps, features_irreps=irreps), "irreps")


@pytest.mark.parametrize("value", [1e300, np.nan, np.inf])
def test_absurd_parameters_refused(model_bytes, value):
    arrays = arrays_of(model_bytes)
    name = next(k for k in arrays if k.startswith("parameter/"))
    arrays[name] = np.full_like(arrays[name], value)
    refused(archive(arrays), "not finite or larger")


def test_deeply_nested_header_refused(model_bytes):
    """A JSON header nested 100,000 deep: today a RecursionError escapes."""
    refused(archive({**arrays_of(model_bytes), "header": np.array("[" * 100_000 + "]" * 100_000)}), "header")


@pytest.mark.parametrize("header", [{"format": "symbreak.model", "version": 1, "config": [], "irreps_in": "0e"},
                                    {"format": "symbreak.model", "version": 1, "config": {}, "irreps_in": 5}])
def test_wrong_header_types_refused(model_bytes, header):
    refused(archive({**arrays_of(model_bytes), "header": np.array(json.dumps(header))}))


def test_npy_headers_checked(model_bytes):
    """Members of the wrong dtype or shape are refused from their .npy headers."""
    arrays = arrays_of(model_bytes)
    refused(archive({**arrays, "features": arrays["features"].astype(np.float32)}), "float64")
    refused(archive({**arrays, "features": arrays["features"].astype(np.complex128)}), "float64")
    refused(archive({**arrays, "header": np.array([1.0])}), "text")


@pytest.mark.parametrize("text, match", [("not base64 at all!", "base64"), ("QUJD", "SymBreak model"),
                                         ("QUJ", "base64"), ("", "SymBreak model")])
def test_stored_text_refused(text, match):
    """What the add-on stores is base64 text: bad padding is one CheckpointError, not a bare
    "Incorrect padding"."""
    with pytest.raises(CheckpointError, match=match):
        checkpoint.from_text(text)


def test_text_round_trip(model_bytes):
    model, features = checkpoint.from_bytes(model_bytes)
    again, _ = checkpoint.from_text(checkpoint.to_text(model, features))
    assert again.config == model.config
    assert base64.b64decode(checkpoint.to_text(model, features)) == checkpoint.to_bytes(model, features)


# --- nothing non-finite comes out ------------------------------------------------------------


def test_prediction_never_non_finite(monkeypatch):
    """A network whose output overflows raises a clear ValueError instead of NaN signals."""
    torch.manual_seed(0)
    model = Network(ModelConfig(lmax=2, radial_neurons=8, layers=2))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(1e300)
    with pytest.raises(ValueError, match="not finite"):
        predict(model, np.random.default_rng(0).normal(size=(5, 3)))


def test_decode_refuses_non_finite_and_survives_huge_signals():
    with pytest.raises(ValueError, match="finite"):
        signals.decode(np.full((2, 9), np.nan))
    huge = signals.encode(np.array([[0.0, 0.0, 1.0]]), 2) * 1e300  # overflows float32 grids
    peaks = signals.decode(huge)
    assert np.isfinite(peaks.displacements).all()
    np.testing.assert_allclose(peaks.displacements[0] / 1e300, [0, 0, 1], atol=1e-6)


# --- graphs: edges counted before anything is built ------------------------------------------


def plane(n):
    """``n x n`` grid on a 2 x 2 plane, Blender's default plane size."""
    g = np.linspace(-1, 1, n)
    x, y = np.meshgrid(g, g)
    return np.stack([x.ravel(), y.ravel(), np.zeros(n * n)], axis=1)


def test_edge_count_matches_the_graph():
    points = np.random.default_rng(0).random((500, 3))
    for radius in (0.05, 0.2):
        assert geometry.count_edges(points, radius) == len(graph.edges(points, radius)[0])
    assert geometry.count_edges(points[:100], None) == len(graph.edges(points[:100], None)[0]) == 100**2


def test_edge_estimate_on_large_sets_is_close():
    points = plane(100)  # 10,000 points: estimated from a sample
    estimate = geometry.count_edges(points, 0.05)
    assert estimate == pytest.approx(len(graph.edges(points, 0.05)[0]), rel=0.02)


def test_huge_radius_refused_with_a_radius_that_fits():
    """Today the default radius 1.5 on a 100 x 100 plane links 79 % of all pairs and Predict
    passes 6 GB; now the count is refused in well under a second with a radius that fits."""
    points = plane(100)
    with pytest.raises(ValueError, match="a radius of") as error:
        graph.edges(points, 1.5)
    fit = float(str(error.value).split("a radius of ")[1].split()[0])
    assert geometry.count_edges(points, fit) <= geometry.MAX_EDGES
    assert geometry.count_edges(points, 1.1 * fit) > 0.9 * geometry.MAX_EDGES


def test_training_bound_is_checked_before_training():
    points = plane(60)
    with pytest.raises(ValueError, match="fit in memory"):
        check_problem(points, points + 0.01, ModelConfig(radius=1e9))


def test_suggested_radius():
    """About 12 neighbours for a typical point, at most 1 % left alone (none on a regular grid), at
    any scale and density."""
    rng = np.random.default_rng(0)
    sets = {"plane": plane(40), "cloud": rng.random((3000, 3)), "sphere": sphere_grid(4)[0]}
    for name, points in sets.items():
        for scale in (1e-3, 1.0, 1e6):
            radius = geometry.suggest_radius(points * scale)
            neighbours = geometry.count_edges(points * scale, radius) / len(points) - 1
            assert 8 <= neighbours <= 40, (name, scale, neighbours)
            alone = len(geometry.isolated_points(points * scale, radius))
            assert alone <= 0.01 * len(points) and (alone == 0 or name == "cloud"), (name, scale, alone)
    with pytest.raises(ValueError, match="distinct"):
        geometry.suggest_radius(np.zeros((5, 3)))


def test_suggested_radius_leaves_at_most_one_percent_alone():
    """A few far points do not set the radius for all (they would multiply the edges); they are
    named instead. Up to 100 points, none is left alone."""
    far = 10.0 + np.arange(3)[:, None] * [5.0, 0.0, 0.0]
    points = np.concatenate([plane(20), far])
    radius = geometry.suggest_radius(points)
    assert geometry.isolated_points(points, radius).tolist() == [400, 401, 402]
    assert geometry.count_edges(points, radius) / len(points) < 40
    small = np.concatenate([plane(9), far[:1]])
    assert len(geometry.isolated_points(small, geometry.suggest_radius(small))) == 0


def test_isolated_points_named():
    points = np.concatenate([plane(10), [[10.0, 0.0, 0.0]]])
    assert geometry.isolated_points(points, 0.5).tolist() == [100]
    assert len(geometry.isolated_points(points, None)) == 0


# --- symmetry: scales, stops at a bound, can be cancelled ------------------------------------


def test_symmetry_of_a_fine_icosphere():
    """10,242 vertices (26.6 s in the add-on before; about 2 s now): the full group Ih."""
    rotation = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]
    x = sphere_grid(5)[0]  # its coordinate axes are 2-fold axes
    result = symmetry.analyze(x @ rotation, (x * [1.0, 1.0, 1.1]) @ rotation)
    assert result["start_group"] == "Ih" and result["kept_group"] == "D2h"


def test_symmetry_progress_and_cancel():
    x = sphere_grid(3)[0]
    calls = []
    symmetry.point_group(x, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1][0] == calls[-1][1] > 0 and all(d <= t for d, t in calls)
    with pytest.raises(Cancelled):
        symmetry.analyze(x, x, cancel=lambda: True)


def test_symmetry_point_bound():
    with pytest.raises(ValueError, match="more than the symmetry analysis takes"):
        symmetry.point_group(np.random.default_rng(0).random((symmetry._groups.MAX_POINTS + 1, 3)))


def test_only_truly_coincident_vertices_refused():
    """Vertices 1e-4 of the size apart are distinct (a dense real mesh); exact duplicates are
    named as vertices, with Merge by Distance."""
    square = np.array([[1.0, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]])
    near = np.concatenate([square, square[:1] + [1e-4, 0, 0]])
    symmetry.point_group(near)
    with pytest.raises(ValueError, match=r"Vertices 0 and 4 coincide.*Merge by Distance"):
        symmetry.point_group(np.concatenate([square, square[:1]]))


# --- decoding: ties scale --------------------------------------------------------------------


def test_ties_near_linear():
    """642 tied candidates (every grid vertex at one height) are told apart in seconds for 200
    signals (each took about 0.3 s in the pairwise tie loop). A signal with only its L = 0 part,
    which ties like this, now decodes to no motion (``test_signals``)."""
    grid, _ = signals.sphere_grid(3)
    began = time.perf_counter()
    one = np.zeros(len(grid), dtype=int)
    tied = [signals._ties(one, grid, np.ones(len(grid)), np.array([1e-3]))[1][0] for _ in range(200)]
    assert all(len(t) == 642 for t in tied)
    assert time.perf_counter() - began < 60  # generous: about 2 s here; 60 s before


def test_ties_merge_close_candidates():
    u = np.array([[0.0, 0, 1], [0, 1e-6, 1], [1, 0, 0]])
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    tied = signals._ties(np.zeros(3, dtype=int), u, np.array([1.0, 1.0, 0.9995]), np.array([1e-3]))[1][0]
    assert len(tied) == 2


# --- the command line keeps its contract: status 2, one line ---------------------------------


def npy_with_header(path, shape, descr="<f8", body=b""):
    with open(path, "wb") as file:
        np.lib.format.write_array_header_1_0(file, {"descr": descr, "fortran_order": False, "shape": shape})
        file.write(body)
    return path


CLI_INPUTS = {
    "npy-claims-1e12-rows": lambda d: npy_with_header(d / "a.npy", (10**12, 3)),
    "npy-malformed-header": lambda d: (d / "b.npy").write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': <f8'}   \n")
    or d / "b.npy",
    "npy-short-body": lambda d: npy_with_header(d / "c.npy", (4, 3), body=bytes(40)),
    "npy-complex": lambda d: (np.save(d / "e.npy", np.ones((4, 3), dtype=complex)), d / "e.npy")[1],
    "npy-object": lambda d: (np.save(d / "f.npy", np.array([[1, 2, 3]] * 4, dtype=object)), d / "f.npy")[1],
    "json-deeply-nested": lambda d: (d / "g.json").write_text("[" * 100_000 + "]" * 100_000) or d / "g.json",
    "json-huge-integer": lambda d: (d / "h.json").write_text(f"[[{10**400}, 0, 0], [1, 1, 1]]") or d / "h.json",
    "json-nan": lambda d: (d / "i.json").write_text("[[NaN, 0, 0], [1, 1, 1]]") or d / "i.json",
    "newline-in-path": lambda d: d / "no\nsuch.npy",
}


@pytest.mark.parametrize("make", list(CLI_INPUTS.values()), ids=list(CLI_INPUTS))
def test_cli_refuses_bad_files_in_one_line(make, tmp_path, capsys):
    good = tmp_path / "good.npy"
    np.save(good, np.eye(3))
    code = main(["analyze", "--start", str(make(tmp_path)), "--target", str(good)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err


def test_cli_refuses_huge_radius(tmp_path, capsys):
    """Today ``--radius 1e9`` on 1,000 points passes 6 GB in 12 s."""
    points = tmp_path / "p.npy"
    np.save(points, np.random.default_rng(0).random((1000, 3)))
    code = main(["train", "--start", str(points), "--target", str(points), "--radius", "1e9", "--iterations", "1"])
    out, err = capsys.readouterr()
    assert code == 2 and "a radius of" in err and err.count("\n") == 1


# --- through the door ------------------------------------------------------------------------


def test_door_functions(model_bytes):
    from engine import api

    points = plane(20)
    radius = api.suggest_radius(points)
    assert api.count_edges(points, radius) == geometry.count_edges(points, radius)
    assert api.isolated_points(points, radius).tolist() == []
    assert api.model_from_text(base64.b64encode(model_bytes).decode()) == model_bytes
    with pytest.raises(ValueError, match="not base64"):
        api.model_from_text("QUJ")
    with pytest.raises(api.Cancelled):
        api.analyze(sphere_grid(3)[0], sphere_grid(3)[0], cancel=lambda: True)
