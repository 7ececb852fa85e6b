import itertools
import json

import numpy as np
import pytest
import torch
from e3nn import o3
from hypothesis import given, settings, strategies as st
from scipy.spatial.transform import Rotation

from engine.order_parameter import OrderParameter
from engine.symmetry import analyze, curie_check, order_parameter, point_group, point_order_parameter
from helpers import described_polynomial

SQUARE = np.array([[1, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]], dtype=float)
RECTANGLE = SQUARE * [1.5, 1, 1]


def closure(generators):
    """All products of the generators (a finite group of 3x3 matrices)."""
    group = [np.eye(3)]
    for g in group:
        for h in generators:
            product = g @ h
            if not any(np.allclose(product, k) for k in group):
                group.append(product)
    return np.array(group)


def orbit(generators, *points):
    images = np.concatenate([closure(generators) @ np.asarray(p, dtype=float) for p in points])
    return np.unique(images.round(9), axis=0)


def turn(axis, degrees):
    return Rotation.from_rotvec(np.radians(degrees) * np.asarray(axis, float) / np.linalg.norm(axis)).as_matrix()


def ring(n, radius=1.0, z=0.0, phase=0.0):
    angles = np.radians(phase) + 2 * np.pi * np.arange(n) / n
    return np.stack([radius * np.cos(angles), radius * np.sin(angles), np.full(n, z)], axis=1)


C3_DIAGONAL, C2_Z, INVERSION = turn([1, 1, 1], 120), turn([0, 0, 1], 180), -np.eye(3)
S4 = turn([0, 0, 1], 90) * [1, 1, -1]
GOLDEN = (1 + 5**0.5) / 2
ICOSAHEDRON = np.array(
    [p for s1 in (1, -1) for s2 in (1, -1) for p in ([0, s1, s2 * GOLDEN], [s1, s2 * GOLDEN, 0], [s2 * GOLDEN, 0, s1])]
)
TWISTED = np.concatenate([ring(4, z=1), ring(4, z=-1, phase=20)])
ETHANE = np.concatenate([[[0, 0, 0.75], [0, 0, -0.75]], ring(3, z=1.1), ring(3, z=-1.1, phase=60)])
PINWHEEL = np.concatenate([ring(4), ring(4, radius=1.3, phase=15)])
RANDOM = np.random.default_rng(1).normal(size=(12, 3))
MIRRORED = np.concatenate([RANDOM[:5], RANDOM[:5] * [1, 1, -1]])

SHAPES = {
    "square": (SQUARE, None, "D4h", 16),
    "rectangle": (RECTANGLE, None, "D2h", 8),
    "tetrahedron": (np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]), None, "Td", 24),
    "cube": (np.array(list(itertools.product([-1, 1], repeat=3))), None, "Oh", 48),
    "octahedron": (np.concatenate([np.eye(3), -np.eye(3)]), None, "Oh", 48),
    "icosahedron": (ICOSAHEDRON, None, "Ih", 120),
    "random cloud": (RANDOM, None, "C1", 1),
    "inverted cloud": (np.concatenate([RANDOM[:5], -RANDOM[:5]]), None, "Ci", 2),
    "mirrored cloud": (MIRRORED, None, "Cs", 2),
    "triangle": (ring(3), None, "D3h", 12),
    "hexagon": (ring(6), None, "D6h", 24),
    "water": (np.array([[0, 0, 0], [0.8, 0.6, 0], [-0.8, 0.6, 0]]), ["O", "H", "H"], "C2v", 4),
    "pyramid": (np.concatenate([SQUARE, [[0, 0, 1.2]]]), None, "C4v", 8),
    "ethane": (ETHANE, ["C"] * 2 + ["H"] * 6, "D3d", 12),
    "twisted squares": (TWISTED, None, "D4", 8),
    "allene-like": (np.array([[1, 0, 0.6], [-1, 0, 0.6], [0, 1, -0.6], [0, -1, -0.6]]), None, "D2d", 8),
    "pinwheel": (PINWHEEL, None, "C4h", 8),
    "S4 set": (orbit([S4], [0.7, 0.3, 0.5], [0.2, 1.1, 0.1]), None, "S4", 4),
    "chiral C3": (orbit([turn([0, 0, 1], 120)], [0.9, 0.2, 0.4], [0.3, 0.8, -0.5]), None, "C3", 3),
    "chiral tetrahedral": (orbit([C3_DIAGONAL, C2_Z], [0.2, 0.5, 0.9]), None, "T", 12),
    "pyritohedral": (orbit([C3_DIAGONAL, C2_Z, INVERSION], [0.0, 0.5, 0.9]), None, "Th", 24),
    "feature rows": (SQUARE, [[0.0, 1.0], [2.0, 1.0], [0.0, 1.0], [2.0, 1.0]], "D2h", 8),
}


def scatter(points, seed, noise=1e-4):
    """Random rotation and translation, plus noise (relative to the RMS radius) below the tolerance."""
    rng = np.random.default_rng(seed)
    points = np.asarray(points, dtype=float)
    rms = np.sqrt(((points - points.mean(axis=0)) ** 2).sum(axis=1).mean())
    moved = points @ Rotation.random(random_state=seed).as_matrix().T + rng.normal(scale=3, size=3)
    return moved + rng.normal(scale=noise * rms, size=points.shape)


@pytest.mark.parametrize("shape", SHAPES)
def test_point_group_in_any_pose(shape):
    points, types, name, order = SHAPES[shape]
    for seed in range(2):
        group = point_group(scatter(points, seed), types)
        assert (group.name, group.order) == (name, order)


@pytest.mark.parametrize("shape", ["cube", "pyramid", "ethane", "pinwheel", "chiral tetrahedral"])
def test_operations_map_the_set_onto_itself_and_close(shape):
    points, types, _, _ = SHAPES[shape]
    x = scatter(points, 3)
    group = point_group(x, types)
    centred = x - x.mean(axis=0)
    scale = np.sqrt((centred**2).sum(axis=1).mean())
    for R, perm in zip(group.operations, group.permutations):
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-9)
        assert np.abs(centred @ R.T - centred[perm]).max() < 1e-3 * scale
    for R, S in itertools.product(group.operations, repeat=2):
        assert np.abs(group.operations - R @ S).max(axis=(1, 2)).min() < 1e-2


@pytest.mark.parametrize("types, name", [(["O", "C", "O"], "D∞h"), (["C", "O", "O"], "C∞v")])
def test_collinear_sets(types, name):
    line = np.array([[0, 0, -1.16], [0, 0, 0], [0, 0, 1.16]])
    if types[0] == "C":
        line = np.array([[0, 0, 0], [0, 0, 1.13], [0, 0, 2.3]])
    group = point_group(scatter(line, 5), types)
    assert group.name == name and group.order == float("inf")


TWO = np.array([[0, 0, 0], [1, 0, 0]], dtype=float)
CO2 = np.array([[-1.16, 0, 0], [0, 0, 0], [1.16, 0, 0]])
LINEAR_MOVES = {  # start along x, displacements, kept group
    "both ends shifted alike": (TWO, [[0, 0.3, 0], [0, 0.3, 0]], "C2v"),
    "ends shifted unequally": (TWO, [[0, 0.3, 0], [0, 0.6, 0]], "Cs"),
    "ends shifted crosswise": (TWO, [[0, 0.3, 0], [0, 0, 0.3]], "C2"),
    "CO2 bent": (CO2, [[0, 0.2, 0], [0, -0.4, 0], [0, 0.2, 0]], "C2v"),
    "one end pulled out": (TWO, [[0, 0, 0], [1, 0, 0]], "C∞v"),
    "both ends pulled out": (TWO, [[-0.5, 0, 0], [0.5, 0, 0]], "D∞h"),
}


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("case", LINEAR_MOVES)
def test_collinear_kept_group_does_not_depend_on_orientation(case, seed):
    """The displacements are turned about the line by a random angle, then everything is rotated
    and translated at random: the kept subgroup of D∞h stays the same."""
    start, d, kept = LINEAR_MOVES[case]
    rotation = Rotation.random(random_state=seed).as_matrix()
    about_line = turn([1, 0, 0], np.random.default_rng(seed).uniform(0, 360))
    shift = np.random.default_rng(seed).normal(scale=3, size=3)
    target = start + np.asarray(d) @ about_line.T
    report = curie_check(start @ rotation.T + shift, target @ rotation.T + shift)
    assert report.start_group.name == "D∞h"
    assert report.kept_name == kept and report.kept.infinite == ("∞" in kept)


def test_collinear_feature_keeps_a_subgroup_in_any_orientation():
    for seed in range(3):
        rotation = Rotation.random(random_state=seed).as_matrix()
        sideways = rotation @ turn([1, 0, 0], 10 * seed + 7) @ [0, 1, 0]
        start = TWO @ rotation.T + 1.0
        assert curie_check(start, start, feature=(1, sideways)).start_group.name == "C2v"


def test_analyze_keeps_an_infinite_subgroup_infinite():
    result = json.loads(json.dumps(analyze(scatter(TWO, 0, noise=0), scatter([[0, 0, 0], [2, 0, 0]], 0, noise=0))))
    assert (result["start_group"], result["start_order"]) == ("D∞h", None)
    assert (result["kept_group"], result["kept_order"]) == ("C∞v", None)
    assert result["broken_operations"] is None and "48" not in result["verdict"]
    assert result["order_parameter"]["symmetry"] == "C∞v"


def test_noise_above_the_tolerance_breaks_the_symmetry():
    assert point_group(scatter(SQUARE, 0, noise=1e-2)).name != "D4h"


@pytest.mark.parametrize(
    "args, message",
    [
        (([[0, 0, 0]] * 3,), "at least 2 distinct points"),
        (([[0, 0]],), "shape"),
        ((SQUARE, ["a", "b"]), "types"),
        ((np.concatenate([SQUARE, SQUARE[:1]]),), "coincide"),
    ],
)
def test_point_group_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        point_group(*args)


def test_curie_rectangle_to_square_is_learnable():
    report = curie_check(scatter(RECTANGLE, 0), scatter(SQUARE, 0))
    assert report.learnable and report.kept_name == "D2h" and len(report.broken) == 0


def test_curie_square_to_rectangle_is_not_learnable():
    report = curie_check(scatter(SQUARE, 1), scatter(RECTANGLE, 1))
    assert not report.learnable
    assert (report.start_group.name, report.kept_name, report.kept_order) == ("D4h", "D2h", 8)
    assert len(report.broken) == 8


def test_bad_input_names_what_was_received():
    with pytest.raises(ValueError, match="same number of points, got 4 and 3"):
        curie_check(SQUARE, RECTANGLE[:3])
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        curie_check(SQUARE, RECTANGLE, feature=(2, np.ones(3)))
    with pytest.raises(ValueError, match=r"l=2 .* got \(3,\)"):
        curie_check(SQUARE, RECTANGLE, feature=[(1, np.ones(3)), (2, np.ones(3))])
    with pytest.raises(ValueError, match="pair"):
        curie_check(SQUARE, RECTANGLE, feature=[(1, np.ones(3)), "x² − y²"])
    with pytest.raises(ValueError, match="lmax"):
        order_parameter(SQUARE, RECTANGLE, lmax=0)
    with pytest.raises(ValueError, match="tolerance"):
        point_group(SQUARE, tolerance=-1)


def signal(l, coefficients, directions):
    return o3.spherical_harmonics(l, torch.as_tensor(directions), normalize=True).numpy() @ coefficients


@pytest.mark.parametrize("seed", [0, 7])
def test_square_to_rectangle_order_parameter_is_x2_minus_y2(seed):
    rotation = Rotation.random(random_state=seed).as_matrix()
    found = order_parameter(SQUARE @ rotation.T + 1.0, RECTANGLE @ rotation.T + 1.0)
    assert found.irreps == "2e" and found.origin == "group theory"
    x_axis, y_axis = rotation[:, 0], rotation[:, 1]
    expected = o3.spherical_harmonics(2, torch.as_tensor(np.stack([x_axis, y_axis])), normalize=True).numpy()
    directions = np.random.default_rng(seed).normal(size=(50, 3))
    got, want = signal(2, found.blocks[2], directions), signal(2, expected[0] - expected[1], directions)
    correlation = got @ want / np.linalg.norm(got) / np.linalg.norm(want)
    assert correlation > 1 - 1e-6  # positive: the signal is largest along the rectangle's long side
    named = described_polynomial(found.description, directions)  # (x_axis·r)² − (y_axis·r)² in the object's axes
    wanted = (directions @ x_axis) ** 2 - (directions @ y_axis) ** 2
    assert named @ wanted / np.linalg.norm(named) / np.linalg.norm(wanted) > 0.98


def test_order_parameter_makes_square_to_rectangle_learnable():
    start, target = scatter(SQUARE, 2), scatter(RECTANGLE, 2)
    for found in (order_parameter(start, target), point_order_parameter(start, target)):
        report = curie_check(start, target, feature=found.significant())
        assert report.learnable and report.start_group.name == "D2h"


def test_every_feature_block_must_be_kept():
    """A learned input with several degrees: a vector along the square's normal keeps C4v, which the
    rectangle still breaks; adding an x² − y² block leaves C2v, which it keeps."""
    rotation = Rotation.random(random_state=3).as_matrix()
    start, target = SQUARE @ rotation.T + 1.0, RECTANGLE @ rotation.T + 1.0
    x_axis, y_axis, normal = rotation.T
    sh2 = o3.spherical_harmonics(2, torch.as_tensor(np.stack([x_axis, y_axis])), normalize=True).numpy()
    vector, quadrupole = (1, 0.5 * normal), (2, sh2[0] - sh2[1])
    alone = curie_check(start, target, feature=[vector])
    assert alone.start_group.name == "C4v" and not alone.learnable
    both = curie_check(start, target, feature=[vector, quadrupole])
    assert both.start_group.name == "C2v" and both.learnable
    assert curie_check(start, target, feature=quadrupole).learnable  # one (l, coefficients) pair


CUBE = SHAPES["cube"][0].astype(float)
DEFORMATIONS = {
    "cube stretched": (CUBE, CUBE * [1, 1, 1.3], "D4h"),
    "cube corner pushed out": (CUBE, CUBE * np.where(CUBE.sum(axis=1) == 3, 1.2, 1)[:, None], "C3v"),
    "square puckered": (SQUARE, SQUARE + [[0, 0, 0.1], [0, 0, -0.1], [0, 0, 0.1], [0, 0, -0.1]], "D2d"),
    "triangle stretched": (SHAPES["triangle"][0], SHAPES["triangle"][0] * [1.2, 1, 1], "C2v"),
}


@pytest.mark.parametrize("case", DEFORMATIONS)
def test_order_parameters_leave_exactly_the_kept_group(case):
    start, target, kept = DEFORMATIONS[case]
    start, target = scatter(start, 6), scatter(target, 6)
    assert curie_check(start, target).kept_name == kept
    for found in (order_parameter(start, target), point_order_parameter(start, target)):
        assert found.symmetry == kept
        report = curie_check(start, target, feature=found.significant())
        assert report.learnable and report.start_group.name == kept


def test_point_order_parameter_labels_split_orbits():
    target = SQUARE * [[1.2], [1], [1.2], [1]]  # two opposite corners move out along the diagonal
    found = point_order_parameter(SQUARE, target)
    assert found.irreps == "0e" and found.num_points == 4
    assert curie_check(SQUARE, target, found.blocks[0][:, 0]).learnable


def test_learnable_target_has_no_order_parameter():
    assert order_parameter(RECTANGLE, SQUARE) is None
    assert point_order_parameter(RECTANGLE, SQUARE) is None


def test_analyze_is_json_ready():
    result = json.loads(json.dumps(analyze(scatter(SQUARE, 4), scatter(RECTANGLE, 4))))
    assert result["start_group"] == "D4h" and result["start_order"] == 16
    assert result["kept_group"] == "D2h" and result["kept_order"] == 8
    assert result["learnable"] is False and result["broken_operations"] == 8
    assert result["order_parameter"]["irreps"] == "2e" and len(result["order_parameter"]["blocks"]["2"]) == 5
    assert result["verdict"].startswith("Not learnable")
    assert result["inputs"] == "no symmetry-breaking input" and result["warning"].startswith("Not learnable with")
    assert analyze(RECTANGLE, SQUARE)["order_parameter"] is None


def test_analyze_checks_the_given_input_on_one_point_group(monkeypatch):
    """With the order parameter it suggests as the input, the warning goes; the point group is
    found once for both checks."""
    import engine.symmetry._analyze as analysis

    calls = []
    monkeypatch.setattr(analysis, "point_group", lambda *args, **kwargs: calls.append(1) or point_group(*args, **kwargs))
    start, target = scatter(SQUARE, 5), scatter(RECTANGLE, 5)
    plain = analysis.analyze(start, target)
    suggested = OrderParameter.from_dict(plain["order_parameter"])
    fixed = analysis.analyze(start, target, suggested)
    assert calls == [1, 1] and plain["warning"] and fixed["warning"] == ""
    assert fixed["inputs"] == f"the input {suggested.description}"
    normal = OrderParameter({1: [0.0, 0.0, 1.0]}, "learned", "a vector along the normal")
    warning = analysis.analyze(SQUARE, RECTANGLE, normal)["warning"]
    assert warning.startswith("Not learnable with the input a vector along the normal") and "keeping C2v" in warning


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31), st.sampled_from(["tetrahedron", "pyramid", "twisted squares"]), st.integers(0, 7))
def test_kept_group_is_the_symmetry_of_start_and_target_together(seed, shape, index):
    """Pushing one point outwards keeps exactly the operations that map start and target each onto itself."""
    start = scatter(SHAPES[shape][0], seed)
    i = index % len(start)
    target = start.copy()
    target[i] += 0.3 * (start[i] - start.mean(axis=0))
    both = point_group(np.concatenate([start, target]), ["start"] * len(start) + ["target"] * len(start))
    assert curie_check(start, target).kept_order == both.order


def test_an_order_parameter_that_keeps_too_much_is_not_offered_as_the_fix():
    """A flat square grid bent into a parabola (D4h to C2v): no single degree keeps exactly C2v.
    The closest order parameter given as an input, the warning must not offer it again."""
    g = np.arange(5.0) - 2
    grid = np.array([[a, b, 0.0] for a in g for b in g])
    bent = grid + np.outer(0.1 * grid[:, 0] ** 2, [0, 0, 1])
    record = analyze(grid, bent)
    assert not record["learnable"] and "no global order parameter" in record["verdict"]
    closest = OrderParameter.from_dict(record["order_parameter"])
    assert closest.symmetry != record["kept_group"]
    warning = analyze(grid, bent, closest)["warning"]
    assert "no global order parameter fixes it" in warning and "Use Order Parameter" not in warning
