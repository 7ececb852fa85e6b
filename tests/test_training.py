"""Training through the door: the seed's three outcomes, the training API, prediction and the
learned order parameter."""

import numpy as np
import pytest
import torch
from e3nn import o3
from threadpoolctl import threadpool_info

import engine.network.planned
from engine import api, checkpoint, training
from engine.features import Features
from engine.network import Network
from engine.prediction import predict
from engine.schedule import Schedule
from engine.signals import encode
from engine.tasks import rectangle, square
from helpers import random_orthogonal, wigner

TASKS, ModelConfig = api.TASKS, api.ModelConfig
SEED = ModelConfig()
SMALL = ModelConfig(lmax=2, radial_neurons=16)


@pytest.fixture(scope="module")
def seed_results():
    """Each of the seed's tasks trained once, with the defaults."""
    return {name: api.train(task.start, task.target, config=SEED, order_parameter=task.order_parameter)
            for name, task in TASKS.items()}


def position_error(prediction, target):
    return np.linalg.norm(prediction.predicted - target, axis=1).max()


# --- the seed's outcomes ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rectangle-to-square", "square-to-rectangle-broken"])
def test_learnable_tasks_reach_target(seed_results, name):
    """Tasks 1 and 3: decoded positions within 1 % of the largest displacement, no ambiguity, loss
    near zero, stopped at the tolerance well within the budget."""
    result = seed_results[name]
    assert result.fit.max_error < 0.01 and position_error(result.prediction, TASKS[name].target) < 0.01
    assert not result.prediction.ambiguous.any()
    assert len(result.loss_history) < api.training_budget(16) / 4
    assert result.final_loss < 1e-6


def _keeps_square_symmetry(points):
    """The points are mapped onto themselves by the square's 4-fold rotation about z."""
    c = points.mean(axis=0)
    quarter = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    turned = (points - c) @ quarter.T + c
    return np.linalg.norm(turned[:, None] - points[None], axis=-1).min(axis=1).max() < 1e-3


def test_task2_cannot_break_symmetry(seed_results):
    """Task 2: ambiguous (or symmetric), with a loss at least 10x Task 1's."""
    result = seed_results["square-to-rectangle"]
    prediction = result.prediction
    assert prediction.ambiguous.all() or _keeps_square_symmetry(prediction.predicted)
    assert result.final_loss >= 10 * seed_results["rectangle-to-square"].final_loss
    # the best symmetric output, in units of the largest displacement 0.25 * sqrt(2): 7.07e-4 / 0.125
    assert result.final_loss == pytest.approx(5.657e-3, rel=0.01)
    assert position_error(prediction, TASKS["square-to-rectangle"].target) > 0.05
    for ambiguous, peaks in zip(prediction.ambiguous, prediction.peaks):
        assert (len(peaks) > 1) == ambiguous  # every tied peak is listed


def test_task3_input_is_x2_minus_y2():
    """Task 3's extra input is the x² − y² order parameter on every point, scalar 1 first."""
    features = Features.with_order_parameter(4, TASKS["square-to-rectangle-broken"].order_parameter)
    assert o3.Irreps(features.irreps) == o3.Irreps("0e+2e")
    np.testing.assert_array_equal(features.values[:, 0], 1.0)
    u = np.random.default_rng(0).normal(size=(50, 3))
    f = o3.spherical_harmonics(2, torch.as_tensor(u), normalize=True).numpy() @ features.values[0, 1:]
    g = (u[:, 0] ** 2 - u[:, 1] ** 2) / np.linalg.norm(u, axis=1) ** 2
    np.testing.assert_allclose(f / g, (f / g)[0], rtol=1e-10)
    assert np.ptp(features.values, axis=0).max() == 0  # the same on every point


def test_tasks_geometry():
    """Square and rectangle are centred in the xy plane; tasks pair them both ways."""
    for points in (square(), rectangle()):
        np.testing.assert_allclose(points.mean(axis=0), 0.0, atol=1e-15)
        np.testing.assert_array_equal(points[:, 2], 0.0)
    np.testing.assert_array_equal(TASKS["rectangle-to-square"].target, TASKS["square-to-rectangle"].start)


def test_result_fields(seed_results):
    """Shapes of everything the result carries; the final loss is the loss of the returned outputs,
    in units of the largest displacement, as the loss history."""
    result = seed_results["square-to-rectangle"]
    task = TASKS["square-to-rectangle"]
    prediction = result.prediction
    assert prediction.signals.shape == (4, 36)
    assert prediction.displacements.shape == prediction.predicted.shape == (4, 3)
    np.testing.assert_allclose(prediction.predicted, task.start + prediction.displacements)
    assert prediction.ambiguous.shape == (4,) and prediction.ambiguous.dtype == bool
    assert len(prediction.peaks) == 4
    assert 0.01 < result.seconds < 60  # training takes a measurable, bounded time
    goal = encode(task.target - task.start, SEED.lmax)
    unit = result.fit.largest_displacement
    assert result.final_loss == pytest.approx(np.mean(((prediction.signals - goal) / unit) ** 2), rel=1e-6)
    assert result.final_loss < result.loss_history[0]


# --- the API ---------------------------------------------------------------------------------


def quick(**kwargs):
    """A fast training run on Task 1 (small network, few steps)."""
    task = TASKS["rectangle-to-square"]
    return api.train(task.start, task.target, **{"config": SMALL, "iterations": 10, **kwargs})


def test_reproducible_from_seed():
    """Same seed: identical history; another seed: a different one."""
    a, b, c = quick(seed=3), quick(seed=3), quick(seed=4)
    np.testing.assert_array_equal(a.loss_history, b.loss_history)
    np.testing.assert_array_equal(a.prediction.signals, b.prediction.signals)
    assert not np.array_equal(a.loss_history, c.loss_history)


def test_seed_does_not_touch_global_rng():
    """Training draws its weights from its own generator: the caller's stream is unchanged."""
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    quick(seed=9)
    assert torch.equal(torch.rand(3), expected)


def blas_threads() -> int:
    """The BLAS threads now (1 where threadpoolctl finds no BLAS)."""
    return max((pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"), default=1)


def test_thread_count_is_restored():
    """Training runs on one torch thread and one BLAS thread; the caller's counts are back afterwards."""
    before = torch.get_num_threads(), blas_threads()
    seen = []
    quick(iterations=2, progress=lambda i, loss: seen.append((torch.get_num_threads(), blas_threads())))
    assert seen == [(1, 1), (1, 1)] and (torch.get_num_threads(), blas_threads()) == before


def test_progress_called_every_iteration():
    """progress(iteration, loss) once per step, in order, with the history's losses."""
    calls = []
    result = quick(iterations=7, progress=lambda i, loss: calls.append((i, loss)))
    assert [i for i, _ in calls] == list(range(7))
    np.testing.assert_array_equal([loss for _, loss in calls], result.loss_history)


def test_cancel_checked_every_step():
    """cancel() is asked before every step; once it says yes, Cancelled, no more steps."""
    events = []

    def cancel():
        events.append("cancel")
        return events.count("cancel") > 3

    with pytest.raises(api.Cancelled):
        quick(iterations=50, progress=lambda i, loss: events.append(i), cancel=cancel)
    assert events == ["cancel", 0, "cancel", 1, "cancel", 2, "cancel"]


def test_cancel_before_first_step():
    with pytest.raises(api.Cancelled):
        quick(cancel=lambda: True, progress=lambda i, loss: pytest.fail("trained after a cancel"))


def test_early_stop_at_tolerance():
    """Stops at the first loss below the tolerance times the loss of no motion, the steps before
    unchanged."""
    task = TASKS["rectangle-to-square"]
    full = training.train(task.start, task.target, config=SMALL, schedule=Schedule(60, tolerance=None))
    d = task.target - task.start
    still = np.mean(encode(d / np.linalg.norm(d, axis=1).max(), SMALL.lmax) ** 2)
    tolerance = float(np.quantile(full.loss_history, 0.5))
    stopped = training.train(task.start, task.target, config=SMALL, schedule=Schedule(60, tolerance=tolerance / still))
    k = int(np.argmax(full.loss_history <= tolerance))
    assert len(stopped.loss_history) == k + 1 < 60
    np.testing.assert_array_equal(stopped.loss_history, full.loss_history[:k + 1])


def test_divergence_large_lr():
    """A huge learning rate is reported as Diverged (a ValueError), not returned."""
    with pytest.raises(api.Diverged, match="diverged"):
        quick(lr=1e3, iterations=50)
    assert issubclass(api.Diverged, ValueError)


def test_divergence_nan(monkeypatch):
    """A NaN loss stops training at once."""
    loss_and_gradient = engine.network.planned.Plan.loss_and_gradient
    monkeypatch.setattr(engine.network.planned.Plan, "loss_and_gradient", lambda *args: loss_and_gradient(*args) * float("nan"))
    progress = []
    with pytest.raises(api.Diverged, match="iteration 0"):
        quick(progress=lambda i, loss: progress.append(i))
    assert progress == []


THREE_POINT_INPUT = api.OrderParameter({0: np.ones((3, 1))}, "vertex group", "weights")


@pytest.mark.parametrize("start, target, order_parameter, message", [
    ([[0, 0, 0], [1, np.nan, 0]], [[0, 0, 0], [1, 1, 0]], None, "NaN"),
    ([[0, 0, 0], [1, 1, 0]], [[0, 0, 0], [1, np.inf, 0]], None, "infinite"),
    ([[0, 0, 0]], [[1, 1, 1]], None, "at least 2 points"),
    ([[0, 0], [1, 1]], [[0, 0], [1, 1]], None, r"shape \(N, 3\)"),
    ([[0, 0, 0], [1, 0, 0]], [[0, 0, 0], [1, 0, 0], [2, 0, 0]], None, "same number of points"),
    ([[0, 0, 0], [1, 0, 0]], [[0, 0, 0], [1, 1, 0]], THREE_POINT_INPUT, "given for 3 points"),
    ([[0, 0, 0], ["a", 0, 0]], [[0, 0, 0], [1, 1, 0]], None, "numbers"),
], ids=["nan", "inf", "one-point", "2d", "lengths", "input-count", "strings"])
def test_bad_inputs(start, target, order_parameter, message):
    """Bad points or inputs: ValueError saying what is wrong."""
    with pytest.raises(ValueError, match=message):
        api.train(start, target, order_parameter=order_parameter, config=SMALL, iterations=2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(iterations=0), "iterations"), (dict(iterations=2.5), "iterations"), (dict(iterations=True), "iterations"),
    (dict(lr=0.0), "learning rate"), (dict(lr=-1e-3), "learning rate"), (dict(lr="fast"), "learning rate"),
])
def test_bad_hyper_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        quick(**kwargs)


def test_features_validate():
    """Features check their width against their irreps and finiteness; an input is tiled."""
    with pytest.raises(ValueError, match="need shape"):
        Features("0e+2e", np.ones((4, 1)))
    with pytest.raises(ValueError, match="NaN"):
        Features("0e", np.full((4, 1), np.nan))
    with pytest.raises(ValueError, match="terms like"):
        Features("0e+2q", np.ones((4, 6)))
    f = Features.with_order_parameter(3, api.OrderParameter({1: [1.0, 2.0, 3.0]}, "learned", ""))
    assert o3.Irreps(f.irreps) == o3.Irreps("0e+1o") and f.values.shape == (3, 4)
    np.testing.assert_array_equal(f.values[2], [1.0, 1.0, 2.0, 3.0])


def test_vector_output_trains():
    """output='vector' learns displacements directly (nothing is ever ambiguous)."""
    task = TASKS["rectangle-to-square"]
    result = api.train(task.start, task.target, config=ModelConfig(lmax=2, radial_neurons=16, output="vector"),
                       iterations=100, lr=1e-2)
    prediction = result.prediction
    assert prediction.signals.shape == (4, 3)
    np.testing.assert_array_equal(prediction.displacements, prediction.signals)
    assert not prediction.ambiguous.any()
    assert result.final_loss < 0.1 * result.loss_history[0]


# --- prediction ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(TASKS))
def test_predict_reproduces_training(seed_results, name):
    """predict() on the trained model gives the training result's outputs and displacements."""
    result, task = seed_results[name], TASKS[name]
    trained = result.prediction
    same = api.predict(result.model, task.start, order_parameter=task.order_parameter, dtype="float32")
    np.testing.assert_allclose(same.signals, trained.signals, rtol=0, atol=1e-6)
    exact = api.predict(result.model, task.start, order_parameter=task.order_parameter)
    np.testing.assert_allclose(exact.signals, trained.signals, rtol=0, atol=1e-4)
    for prediction in (same, exact):
        np.testing.assert_array_equal(prediction.ambiguous, trained.ambiguous)
        for i, ambiguous in enumerate(trained.ambiguous):
            if ambiguous:  # which tied peak comes first is arbitrary: compare the sets
                assert _same_set(prediction.peaks[i], trained.peaks[i], 1e-4)
            else:
                np.testing.assert_allclose(prediction.displacements[i], trained.displacements[i], atol=1e-4)


def _same_set(a, b, atol):
    distance = np.linalg.norm(a[:, None] - b[None], axis=-1)
    return len(a) == len(b) and distance.min(axis=0).max() < atol and distance.min(axis=1).max() < atol


def _rotation():
    return random_orthogonal(torch.Generator().manual_seed(0))


def test_predict_is_equivariant(seed_results):
    """Predicting on a rotated start rotates the decoded displacements (Task 1, scalar inputs)."""
    model = seed_results["rectangle-to-square"].model
    start = TASKS["rectangle-to-square"].start
    R = _rotation()
    a, b = api.predict(model, start), api.predict(model, start @ R.T)
    np.testing.assert_allclose(b.displacements, a.displacements @ R.T, atol=1e-8)


def test_trained_model_is_exact_in_float64(seed_results):
    """The trained model is a float64 model: its fixed buffers (Clebsch-Gordan coefficients)
    equal a freshly built network's, so it is equivariant to 1e-10 in float64."""
    model, _ = checkpoint.from_bytes(seed_results["rectangle-to-square"].model)
    fresh = Network(model.config, str(model.irreps_in))
    for (name, a), (_, b) in zip(model.named_buffers(), fresh.named_buffers()):
        assert a.dtype == b.dtype and torch.equal(a, b), name
    R = _rotation()
    positions = np.random.default_rng(1).normal(size=(6, 3))
    a, b = predict(model, positions), predict(model, positions @ R.T)
    assert np.abs(b.signals - a.signals @ wigner(model.irreps_out, R).T).max() <= 1e-10


def test_predict_in_float32_leaves_model_exact():
    """predict(dtype=float32) must not round the model's float64 buffers for later calls."""
    model = Network(ModelConfig(lmax=3, radial_neurons=16), generator=torch.Generator().manual_seed(0))
    positions = np.random.default_rng(2).normal(size=(5, 3))
    before = predict(model, positions).signals
    predict(model, positions, dtype=torch.float32)
    np.testing.assert_array_equal(predict(model, positions).signals, before)
    assert next(model.parameters()).dtype == torch.float64


def test_predict_rejects(seed_results):
    model = seed_results["square-to-rectangle-broken"].model
    with pytest.raises(ValueError, match="takes"):  # an L=1 input for a model that wants 0e+2e
        api.predict(model, square(), order_parameter=api.OrderParameter({1: [0.0, 1.0, 0.0]}, "learned", ""))
    with pytest.raises(ValueError, match="given for 3 points"):
        api.predict(model, square(), order_parameter=api.OrderParameter({2: np.ones((3, 5))}, "learned", ""))
    with pytest.raises(ValueError, match="NaN"):
        api.predict(model, np.full((4, 3), np.nan))


# --- learned order parameter -----------------------------------------------------------------


@pytest.fixture(scope="module", params=[0, 1, 2])
def learned(request):
    """Learned from several seeds: the result must not depend on a lucky initialisation."""
    return api.learn_order_parameter(square(), rectangle(), config=SEED, seed=request.param)


def test_learned_order_parameter_is_even(learned):
    """Square -> rectangle: at least 90% of the learned input's norm is in L = 2 and 4."""
    found = learned.order_parameter
    norms = {l: np.linalg.norm(c) for l, c in found.blocks.items()}
    assert set(norms) == set(range(1, 6)) and found.irreps == "1o+2e+3o+4e+5o"
    assert np.hypot(norms[2], norms[4]) >= 0.9 * np.linalg.norm(list(norms.values()))
    assert np.linalg.norm(found.values) == pytest.approx(1.0)
    assert len(learned.loss_history) == 300
    assert found.origin == "learned" and found.description.startswith("learned: L=")
    assert [l for l, _ in found.significant()][0] in (2, 4)


def test_learned_order_parameter_breaks_symmetry(learned):
    """Training with the learned input reaches Task 3's accuracy."""
    result = api.train(square(), rectangle(), config=SEED, order_parameter=learned.order_parameter)
    assert position_error(result.prediction, rectangle()) < 0.05
    assert not result.prediction.ambiguous.any()


def test_learning_reports_progress_and_cancels():
    calls = []
    with pytest.raises(api.Cancelled):
        api.learn_order_parameter(square(), rectangle(), config=SMALL, progress=lambda i, loss: calls.append(i),
                                  cancel=lambda: len(calls) >= 3)
    assert calls == [0, 1, 2]


def test_learn_order_parameter_rejects_bad_points():
    with pytest.raises(ValueError, match="same number of points"):
        api.learn_order_parameter(square(), rectangle()[:3], config=SMALL)


def test_per_point_order_parameter_breaks_symmetry():
    """An input learned per point (one per corner) also lets square -> rectangle be learned."""
    learned = api.learn_order_parameter(square(), rectangle(), config=SEED, per_point=True)
    found = learned.order_parameter
    assert found.num_points == 4 and found.values.shape == (4, 35)
    result = api.train(square(), rectangle(), config=SEED, order_parameter=found)
    assert position_error(result.prediction, rectangle()) < 0.05
