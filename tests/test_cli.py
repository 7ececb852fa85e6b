"""``python -m engine``: the JSON it prints, and one clear line with status 2 for bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.tasks import rectangle, square

ROOT = Path(__file__).resolve().parent.parent

TRAIN_KEYS = {"task", "iterations", "final_loss", "loss_history", "seconds", "start", "target", "predicted",
              "displacements", "ambiguous", "max_position_error"}
ANALYZE_KEYS = {"start_group", "start_order", "kept_group", "kept_order", "learnable", "broken_operations",
                "order_parameter"}


def cli(capsys, *argv):
    """Run the command line in-process: (exit status, stdout, stderr)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit:  # argparse's own exits (e.g. --help) are allowed here
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


def one_json_object(out):
    """stdout is exactly one JSON object on one line."""
    assert out.endswith("\n") and out.count("\n") == 1
    result = json.loads(out)
    assert isinstance(result, dict)
    return result


def check_train_result(result, start, target, iterations):
    assert TRAIN_KEYS <= set(result)
    assert result["iterations"] == iterations == len(result["loss_history"])
    assert result["seconds"] > 0
    n = len(start)
    np.testing.assert_allclose(result["start"], start)
    np.testing.assert_allclose(result["target"], target)
    predicted, displacements = np.array(result["predicted"]), np.array(result["displacements"])
    assert predicted.shape == displacements.shape == (n, 3)
    np.testing.assert_allclose(predicted, np.array(start) + displacements)
    assert len(result["ambiguous"]) == n and all(isinstance(a, bool) for a in result["ambiguous"])
    error = np.linalg.norm(predicted - np.array(target), axis=1).max()
    assert result["max_position_error"] == pytest.approx(error)
    assert result["final_loss"] >= 0


@pytest.fixture
def files(tmp_path):
    """Point files: ``name -> path`` for good and bad inputs."""
    made = {}

    def npy(name, array, **kwargs):
        made[name] = tmp_path / f"{name}.npy"
        np.save(made[name], array, **kwargs)

    def text(name, content, suffix=".json"):
        made[name] = tmp_path / f"{name}{suffix}"
        made[name].write_text(content)

    npy("rectangle", rectangle())
    text("square", json.dumps(square().tolist()))
    text("rectangle_json", json.dumps(rectangle().tolist()))
    npy("square_npy", square())
    npy("flat", np.zeros((4, 2)))
    text("vector", json.dumps([1.0, 2.0, 3.0]))
    text("nan", "[[0, 0, 0], [1, NaN, 0], [1, 1, 0], [0, 1, 0]]")
    npy("inf", np.array([[0, 0, 0], [1, np.inf, 0], [1, 1, 0], [0, 1, 0]], dtype=float))
    text("one", "[[0, 0, 0]]")
    text("five", json.dumps(np.arange(15.0).reshape(5, 3).tolist()))
    text("malformed", "[[0, 0, 0], [1, 0")
    text("ragged", "[[0, 0, 0], [1, 0]]")
    text("words", '[["a", "b", "c"], [1, 2, 3]]')
    text("text", "0 0 0\n1 0 0\n", suffix=".txt")
    npy("pickled", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    made["empty_npy"] = tmp_path / "empty.npy"
    made["empty_npy"].write_bytes(b"")
    made["missing"] = tmp_path / "missing.npy"
    text("co", json.dumps([[0, 0, 0], [0, 0, 1.13]]))  # carbon monoxide, stretched and shifted
    text("co_stretched", json.dumps([[0, 0, -0.05], [0, 0, 1.2]]))
    text("co_types", "6\n8\n", suffix=".txt")
    npy("co_types_npy", np.array([6, 8], dtype=np.int32))
    text("three_types", "6\n8\n8\n", suffix=".txt")
    text("word_types", "6\nO\n", suffix=".txt")
    npy("float_types", np.array([6.0, 8.0]))
    npy("table_types", np.array([[6], [8]]))
    return made


# --- train -----------------------------------------------------------------------------------


def test_train_task_json(capsys):
    """train --task --json: one JSON object with every documented key; progress on stderr."""
    code, out, err = cli(capsys, "train", "--task", "rectangle-to-square", "--iterations", 20, "--json")
    assert code == 0
    result = one_json_object(out)
    assert result["task"] == "rectangle-to-square"
    check_train_result(result, rectangle(), square(), 20)
    assert "20/20" in err


def test_train_summary_without_json(capsys):
    """Without --json a one-line human summary goes to stdout."""
    code, out, _ = cli(capsys, "train", "--task", "square-to-rectangle", "--iterations", 5, "--lr", 1e-2,
                       "--seed", 3)
    assert code == 0
    assert out.count("\n") == 1 and "square-to-rectangle" in out and "5 iterations" in out


def test_train_from_files(capsys, files):
    """--start a.npy --target b.json (and the other way round) train a custom task."""
    code, out, _ = cli(capsys, "train", "--start", files["rectangle"], "--target", files["square"],
                       "--iterations", 20, "--json")
    assert code == 0
    result = one_json_object(out)
    assert result["task"] == "custom"
    check_train_result(result, rectangle(), square(), 20)
    code, out, _ = cli(capsys, "train", "--start", files["rectangle_json"], "--target", files["square_npy"],
                       "--iterations", 3, "--json", "--output", "vector", "--lmax", 2)
    assert code == 0
    check_train_result(one_json_object(out), rectangle(), square(), 3)


def test_train_seed_reproducible(capsys):
    """The same --seed gives the same loss history."""
    runs = [one_json_object(cli(capsys, "train", "--task", "rectangle-to-square", "--iterations", 5,
                                "--lmax", 2, "--seed", seed, "--json")[1]) for seed in (1, 1, 2)]
    assert runs[0]["loss_history"] == runs[1]["loss_history"] != runs[2]["loss_history"]


@pytest.mark.parametrize("breaking", ["auto", "learned"])
def test_train_breaking(capsys, breaking):
    """square-to-rectangle with an order parameter (group theory or learned) reaches the target."""
    code, out, err = cli(capsys, "train", "--task", "square-to-rectangle", "--breaking", breaking, "--json")
    assert code == 0
    result = one_json_object(out)
    assert result["max_position_error"] < 0.05
    assert not any(result["ambiguous"])
    assert "order parameter" in err
    found = result["order_parameter"]
    assert found["mode"] == breaking
    if breaking == "auto":
        assert found["irreps"] == "2e" and found["origin"] == "group theory"
    else:
        norms = {int(l): np.linalg.norm(c) for l, c in found["blocks"].items()}
        assert np.hypot(norms[2], norms[4]) >= 0.9 * np.linalg.norm(list(norms.values()))


def test_train_subprocess(tmp_path):
    """A real ``python -m engine`` run: clean JSON on stdout, progress on stderr."""
    run = subprocess.run([sys.executable, "-m", "engine", "train", "--task", "rectangle-to-square",
                          "--iterations", "20", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    result = one_json_object(run.stdout)
    check_train_result(result, rectangle(), square(), 20)
    assert "iteration 20/20" in run.stderr and "Traceback" not in run.stderr


# --- analyze ---------------------------------------------------------------------------------


def test_analyze_square_to_rectangle(capsys, files):
    """Square -> rectangle is not learnable: 8 operations broken, order parameter l=2, even."""
    code, out, _ = cli(capsys, "analyze", "--start", files["square_npy"], "--target", files["rectangle_json"],
                       "--json")
    assert code == 0
    result = one_json_object(out)
    assert ANALYZE_KEYS <= set(result)
    assert result["learnable"] is False
    assert result["broken_operations"] == 8
    assert result["start_order"] - result["kept_order"] == result["broken_operations"]
    assert result["order_parameter"]["irreps"] == "2e"


def test_analyze_rectangle_to_square(capsys, files):
    """Rectangle -> square keeps every operation: learnable, no order parameter needed."""
    code, out, _ = cli(capsys, "analyze", "--start", files["rectangle"], "--target", files["square"], "--json")
    assert code == 0
    result = one_json_object(out)
    assert result["learnable"] is True
    assert result["broken_operations"] == 0 and result["order_parameter"] is None
    assert result["start_group"] == result["kept_group"]


@pytest.mark.parametrize("types", ["co_types", "co_types_npy", None])
def test_analyze_with_types(capsys, files, types):
    """CO is C∞v with its types (a text file or a .npy), D∞h without."""
    given = [] if types is None else ["--types", files[types]]
    code, out, _ = cli(capsys, "analyze", "--start", files["co"], "--target", files["co_stretched"], *given, "--json")
    assert code == 0
    result = one_json_object(out)
    assert (result["start_group"], result["learnable"]) == (("D∞h", False) if types is None else ("C∞v", True))


def test_train_with_types(capsys, files):
    """train --types: the network reads the two types and learns CO's stretch; the JSON names them."""
    code, out, _ = cli(capsys, "train", "--start", files["co"], "--target", files["co_stretched"], "--types",
                       files["co_types"], "--lmax", 2, "--iterations", 150, "--lr", 1e-2, "--json")
    assert code == 0
    result = one_json_object(out)
    assert result["types"] == [6, 8] and result["features"] == "2x0e" and result["fit"]["max_error"] < 0.01


def test_analyze_summary_without_json(capsys, files):
    code, out, _ = cli(capsys, "analyze", "--start", files["square_npy"], "--target", files["rectangle"])
    assert code == 0 and out.count("\n") == 1 and "learnable" in out.lower()


# --- bad input -------------------------------------------------------------------------------


BAD = {
    "missing-file": ["train", "--start", "{missing}", "--target", "{square}"],
    "wrong-shape": ["train", "--start", "{flat}", "--target", "{square}"],
    "one-dimensional": ["train", "--start", "{vector}", "--target", "{square}"],
    "nan": ["train", "--start", "{nan}", "--target", "{square}"],
    "inf": ["train", "--start", "{rectangle}", "--target", "{inf}"],
    "one-point": ["train", "--start", "{one}", "--target", "{one}"],
    "different-lengths": ["train", "--start", "{rectangle}", "--target", "{five}"],
    "malformed-json": ["train", "--start", "{malformed}", "--target", "{square}"],
    "ragged-json": ["train", "--start", "{ragged}", "--target", "{square}"],
    "not-numbers": ["train", "--start", "{words}", "--target", "{square}"],
    "unknown-extension": ["train", "--start", "{text}", "--target", "{square}"],
    "pickled-npy": ["train", "--start", "{pickled}", "--target", "{square}"],
    "empty-npy": ["train", "--start", "{empty_npy}", "--target", "{square}"],
    "unknown-task": ["train", "--task", "triangle-to-circle"],
    "task-and-files": ["train", "--task", "rectangle-to-square", "--start", "{rectangle}", "--target", "{square}"],
    "nothing-to-train": ["train"],
    "start-without-target": ["train", "--start", "{rectangle}"],
    "iterations-not-int": ["train", "--task", "rectangle-to-square", "--iterations", "abc"],
    "iterations-zero": ["train", "--task", "rectangle-to-square", "--iterations", "0"],
    "lr-negative": ["train", "--task", "rectangle-to-square", "--lr", "-1"],
    "lmax-zero": ["train", "--task", "rectangle-to-square", "--lmax", "0"],
    "radius-negative": ["train", "--task", "rectangle-to-square", "--radius", "-1"],
    "unknown-option": ["train", "--task", "rectangle-to-square", "--bogus"],
    "unknown-output": ["train", "--task", "rectangle-to-square", "--output", "cube"],
    "no-command": [],
    "unknown-command": ["fly"],
    "analyze-missing-target": ["analyze", "--start", "{square}"],
    "analyze-missing-file": ["analyze", "--start", "{missing}", "--target", "{square}"],
    "analyze-different-lengths": ["analyze", "--start", "{square}", "--target", "{five}"],
    "analyze-nan": ["analyze", "--start", "{nan}", "--target", "{square}"],
    "types-missing-file": ["analyze", "--start", "{co}", "--target", "{co}", "--types", "{missing}"],
    "types-count": ["analyze", "--start", "{co}", "--target", "{co}", "--types", "{three_types}"],
    "types-not-integers": ["analyze", "--start", "{co}", "--target", "{co}", "--types", "{word_types}"],
    "types-floats": ["train", "--start", "{co}", "--target", "{co}", "--types", "{float_types}"],
    "types-2d": ["train", "--start", "{co}", "--target", "{co}", "--types", "{table_types}"],
    "types-pickled": ["train", "--start", "{co}", "--target", "{co}", "--types", "{pickled}"],
}


@pytest.mark.parametrize("argv", list(BAD.values()), ids=list(BAD))
def test_bad_input(capsys, files, argv):
    """Exit status 2, nothing on stdout, exactly one line on stderr, no traceback."""
    code, out, err = cli(capsys, *[a.format(**files) for a in argv])
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.strip() and "Traceback" not in err


@pytest.mark.parametrize("name, message", [
    ("types-count", "3 types for 2 points"), ("types-not-integers", "line 2 is 'O', not an integer"),
    ("types-floats", "expected integer types, got float64"), ("types-2d", "shape (N,)"),
])
def test_bad_types_say_what_is_wrong(capsys, files, name, message):
    """Each refusal names the types file and what is wrong with it."""
    _, _, err = cli(capsys, *[a.format(**files) for a in BAD[name]])
    assert message in err and "_types" in err


def test_bad_input_subprocess(files):
    """The same through a real process: status 2 and one line, for a missing file and a NaN."""
    for argv in (BAD["missing-file"], BAD["nan"]):
        run = subprocess.run([sys.executable, "-m", "engine", *[a.format(**files) for a in argv], "--json"],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert run.returncode == 2
        assert run.stdout == ""
        assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr


def test_train_json_reports_the_fit(capsys):
    """--json carries the fit (errors over the largest displacement), not only the final loss."""
    code, out, _ = cli(capsys, "train", "--task", "square-to-rectangle", "--iterations", 5, "--json")
    assert code == 0
    result = one_json_object(out)
    predicted, target, start = (np.array(result[k]) for k in ("predicted", "target", "start"))
    errors = np.linalg.norm(predicted - target, axis=1) / np.linalg.norm(target - start, axis=1).max()
    fit = result["fit"]
    assert fit["max_error"] == pytest.approx(errors.max()) and fit["mean_error"] == pytest.approx(errors.mean())
    assert fit["within"] == pytest.approx(np.mean(errors <= 0.05)) and fit["within_tolerance"] == 0.05
    assert "max error" in result["fit_summary"]
    code, out, _ = cli(capsys, "train", "--task", "square-to-rectangle", "--iterations", 5)
    assert "max error" in out and "% of vertices within 5 %" in out
