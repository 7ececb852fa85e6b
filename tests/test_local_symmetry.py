"""The local check: vertices whose neighbourhoods within layers × radius a network cannot tell apart."""

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from engine import api
from engine.cli import main
from engine.symmetry._curie import curie_check
from engine.symmetry._local import local_check


def grid(columns, rows):
    """A flat grid of unit steps centred on the origin, ``(columns * rows, 3)``."""
    x, y = np.meshgrid(np.arange(columns) - (columns - 1) / 2, np.arange(rows) - (rows - 1) / 2)
    return np.column_stack([x.ravel(), y.ravel(), np.zeros(x.size)])


def polygon(n, radius=1.0):
    angles = 2 * np.pi * np.arange(n) / n
    return np.column_stack([radius * np.cos(angles), radius * np.sin(angles), np.zeros(n)])


def test_squashed_grid_with_a_small_radius_cannot_be_fit():
    """Interior vertices see the same neighbourhood (a translation) but move differently: no
    global input separates translated neighbourhoods, so an order parameter is not suggested."""
    start = grid(20, 20)
    report = local_check(start, start * [1.0, 0.5, 1.0], radius=1.1, layers=2)
    assert len(report.vertices) == 400 and report.groups >= 1 and not report.global_input_helps
    assert report.reach == pytest.approx(2.2) and report.seconds > 0
    sentence = report.sentence
    assert sentence.startswith("400 of 400 vertices cannot be fit") and "2 layers × radius 1.1 = 2.2" in sentence
    assert "a larger radius or all pairs" in sentence and "per-vertex features" in sentence
    assert "order parameter" not in sentence


def test_a_reach_over_the_whole_mesh_is_left_to_the_global_check():
    start = grid(5, 5)
    report = local_check(start, start * [1.0, 0.5, 1.0], radius=3.0, layers=3)
    assert report.skipped and len(report.vertices) == 0 and "global check" in report.sentence


def test_a_regular_polygon_scaled_is_fine():
    start = polygon(12)
    report = local_check(start, 1.3 * start, radius=0.6, layers=2)
    assert len(report.vertices) == 0 and report.sentence.startswith("Each vertex can be fit")


def test_a_regular_polygon_turned_breaks_each_vertex_mirror():
    """Turning breaks the mirror through each vertex and the centre (its neighbourhood's own
    symmetry), as the global check says too; a generic global input would tell them apart."""
    start = polygon(12)
    turn = Rotation.from_euler("z", 10, degrees=True).as_matrix()
    report = local_check(start, start @ turn.T, radius=0.6, layers=2)
    assert len(report.vertices) == 12 and report.global_input_helps and "an order parameter" in report.sentence
    assert not curie_check(start, start @ turn.T).learnable


def test_a_random_cloud_has_no_congruent_neighbourhoods():
    rng = np.random.default_rng(0)
    start = rng.uniform(size=(400, 3))
    report = local_check(start, start + 0.1 * rng.normal(size=start.shape), radius=0.3, layers=2)
    assert len(report.vertices) == 0


def test_a_vertex_moving_out_of_its_neighbourhood_mirror_is_counted():
    """A flat neighbourhood is its own mirror image: moving one vertex off the plane is counted
    (with its congruent partners), in-plane moves of the same size are not."""
    start = grid(12, 12)
    lifted, slid = start.copy(), start.copy()
    lifted[0, 2] += 0.3
    slid[0, 0] += 0.3
    assert 0 in local_check(start, lifted, radius=1.1, layers=2).vertices
    assert 0 not in local_check(start, slid, radius=1.1, layers=2, types=np.arange(len(start))).vertices


def test_types_and_per_vertex_inputs_tell_vertices_apart():
    start = grid(20, 20)
    target = start * [1.0, 0.5, 1.0]
    assert len(local_check(start, target, 1.1, 2, types=np.arange(len(start))).vertices) == 0
    rows = np.arange(len(start)) // 20  # a row's vertices move alike: told apart from the others, fine
    assert len(local_check(start, target, 1.1, 2, types=rows).vertices) == 0
    columns = np.arange(len(start)) % 20  # a column's vertices do not: still congruent, still not fit
    assert len(local_check(start, target, 1.1, 2, types=columns).vertices) > 0
    per_vertex = (1, target - start)
    assert len(local_check(start, target, 1.1, 2, feature=per_vertex).vertices) == 0


def test_the_check_does_not_depend_on_pose():
    """Turning, mirroring and moving start and target together counts the same vertices."""
    rng = np.random.default_rng(1)
    cloud = rng.uniform(size=(200, 3)) * 2 + [20.0, 0.0, 0.0]
    start = np.vstack([grid(10, 10), cloud])
    target = np.vstack([grid(10, 10) * [1.0, 0.7, 1.0], cloud + 0.1 * rng.normal(size=cloud.shape)])
    reference = local_check(start, target, radius=1.5, layers=2)
    for R in (Rotation.random(random_state=2).as_matrix(), -Rotation.random(random_state=3).as_matrix()):
        shift = rng.normal(size=3)
        moved = local_check(start @ R.T + shift, target @ R.T + shift, radius=1.5, layers=2)
        np.testing.assert_array_equal(moved.vertices, reference.vertices)
    assert 100 <= len(reference.vertices) < len(start)


@pytest.mark.parametrize("radius, layers, message", [(0.0, 2, "radius"), (np.nan, 2, "radius"), (1.0, 0, "layers"),
                                                     (1.0, 1.5, "layers")])
def test_bad_settings_are_refused(radius, layers, message):
    with pytest.raises(ValueError, match=message):
        local_check(grid(3, 3), grid(3, 3), radius, layers)


def test_analyze_reports_the_local_check():
    start = grid(16, 8)  # D2h, kept by the squash: learnable with all pairs
    target = start * [1.0, 0.5, 1.0]
    plain = api.analyze(start, target)
    assert plain["local"] is None and plain["learnable"]
    record = json.loads(json.dumps(api.analyze(start, target, radius=1.1, layers=3, hub=False)))
    local = record["local"]
    assert record["learnable"] and local["indistinguishable"] == 128 and local["reach"] == pytest.approx(3.3)
    assert record["warning"] == local["sentence"] and local["seconds"] >= 0 and local["examples"][:3] == [0, 1, 2]
    wide = api.analyze(start, target, radius=30.0, layers=3, hub=False)["local"]
    assert wide["indistinguishable"] == 0 and "global check" in wide["sentence"]
    hubbed = api.analyze(start, target, radius=1.1, layers=3)["local"]
    assert hubbed["hub"] and hubbed["indistinguishable"] == 0 and "through the hub" in hubbed["sentence"]


def test_with_a_hub_one_layer_still_counts_translated_neighbourhoods():
    """One convolution sees the hub only as a point: the check runs, without it."""
    start = grid(20, 20)
    report = local_check(start, start * [1.0, 0.5, 1.0], radius=1.1, layers=1, hub=True)
    assert report.hub and not report.skipped and len(report.vertices) == 400


def test_analyze_command_takes_radius_and_layers(tmp_path, capsys):
    start = grid(10, 10)
    np.save(tmp_path / "start.npy", start)
    np.save(tmp_path / "target.npy", start * [1.0, 0.5, 1.0])
    files = ["analyze", "--start", str(tmp_path / "start.npy"), "--target", str(tmp_path / "target.npy")]
    assert main(files + ["--radius", "1.1", "--layers", "2", "--no-hub"]) == 0
    assert "100 of 100 vertices cannot be fit" in capsys.readouterr().out
    assert main(files + ["--radius", "1.1", "--layers", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["local"]["skipped"]
    assert main(files + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["local"] is None


def test_ten_thousand_vertices_in_seconds():
    start = grid(100, 100)
    report = local_check(start, start * [1.0, 0.5, 1.0], radius=1.5, layers=3)
    assert len(report.vertices) == 10_000 and report.seconds < 20  # about 2 s alone on one core


def test_wigner_matrices_for_many_maps_are_e3nns():
    from engine.symmetry._local import _wigner
    from helpers import wigner

    maps = np.concatenate([Rotation.random(4, random_state=0).as_matrix(),
                           -Rotation.random(4, random_state=1).as_matrix()])
    for l in range(6):
        np.testing.assert_allclose(_wigner(l, maps), wigner(f"{l}{'eo'[l % 2]}", maps), atol=1e-12)


def test_coincident_vertices_skip_the_check():
    start = np.vstack([grid(4, 4), [[0.5, 0.5, 0.0]]])
    report = local_check(start, 2 * start, radius=1.1, layers=2)
    assert report.skipped == "vertices 10 and 16 (nearly) coincide" and "did not run" in report.sentence


def test_an_order_parameter_tells_apart_what_a_rotation_relates():
    """A cloud with the cube's 48 symmetries squashed along z: vertices related by the
    symmetries the squash breaks cannot be fit, until the order parameter of the global check
    (L=2, kept by D4h) is an input."""
    import itertools

    cube = [np.diag(signs) @ np.eye(3)[list(order)] for order in itertools.permutations(range(3))
            for signs in itertools.product([1, -1], repeat=3)]
    seeds = np.random.default_rng(2).uniform(0.5, 4.0, size=(6, 3))
    start = np.concatenate([seeds @ R.T for R in cube])
    target = start * [1.0, 1.0, 0.8]
    plain = api.analyze(start, target, radius=0.8, layers=2, hub=False)
    assert plain["local"]["indistinguishable"] == 288 and "an order parameter" in plain["local"]["sentence"]
    found = api.OrderParameter.from_dict(plain["order_parameter"])
    assert found.description == "L=2, even, ∝ 0.5x² + 0.5y² − z²"
    fixed = api.analyze(start, target, found, radius=0.8, layers=2, hub=False)
    assert fixed["local"]["indistinguishable"] == 0 and fixed["warning"] == ""


def test_analyze_refuses_bad_graph_settings_before_any_work():
    with pytest.raises(ValueError, match="layers"):
        api.analyze(grid(3, 3), grid(3, 3), radius=1.0, layers=0)
    with pytest.raises(ValueError, match="radius"):
        api.analyze(grid(3, 3), grid(3, 3), radius=-1.0)
