"""Training: the seed's three outcomes, the training API, prediction and the learned order parameter."""

import numpy as np
import pytest
import torch
from e3nn import o3

import engine.model
import engine.plan
from engine import TASKS, Features, ModelConfig, TrainingCancelled, TrainingDiverged, predict, train
from engine.tasks import rectangle, square
from engine.training import learn_order_parameter

SMALL = ModelConfig(lmax=2, radial_neurons=16)


@pytest.fixture(scope="module")
def seed_results():
    """Each of the seed's tasks trained once, with the defaults (200 iterations, lr 1e-3)."""
    return {name: train(task.start, task.target, features=task.features) for name, task in TASKS.items()}


def position_error(result, target):
    return np.linalg.norm(result.predicted - target, axis=1).max()


# --- the seed's outcomes ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rectangle-to-square", "square-to-rectangle-broken"])
def test_learnable_tasks_reach_target(seed_results, name):
    """Tasks 1 and 3: decoded positions within 0.05 of the target, no ambiguity."""
    result = seed_results[name]
    assert position_error(result, TASKS[name].target) < 0.05
    assert not result.ambiguous.any()
    assert len(result.loss_history) == 200


def _keeps_square_symmetry(points):
    """The points are mapped onto themselves by the square's 4-fold rotation about z."""
    c = points.mean(axis=0)
    quarter = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    turned = (points - c) @ quarter.T + c
    return np.linalg.norm(turned[:, None] - points[None], axis=-1).min(axis=1).max() < 1e-3


def test_task2_cannot_break_symmetry(seed_results):
    """Task 2: ambiguous (or symmetric), with a loss at least 10x Task 1's."""
    result = seed_results["square-to-rectangle"]
    assert result.ambiguous.all() or _keeps_square_symmetry(result.predicted)
    assert result.final_loss >= 10 * seed_results["rectangle-to-square"].final_loss
    assert position_error(result, TASKS["square-to-rectangle"].target) > 0.05
    for ambiguous, peaks in zip(result.ambiguous, result.peaks):
        assert (len(peaks) > 1) == ambiguous  # every tied peak is listed


def test_task3_feature_is_x2_minus_y2():
    """Task 3's extra input is the x² − y² order parameter on every point, scalar 1 first."""
    features = TASKS["square-to-rectangle-broken"].features
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
    """Shapes of everything the result carries; final loss is the loss of the returned outputs."""
    result = seed_results["rectangle-to-square"]
    start = TASKS["rectangle-to-square"].start
    assert result.signals.shape == (4, 36)
    assert result.displacements.shape == result.predicted.shape == (4, 3)
    np.testing.assert_allclose(result.predicted, start + result.displacements)
    assert result.ambiguous.shape == (4,) and result.ambiguous.dtype == bool
    assert len(result.peaks) == 4
    assert result.seconds > 0
    assert result.final_loss <= result.loss_history[0]
    assert next(result.model.parameters()).dtype == torch.float64


# --- the API ---------------------------------------------------------------------------------


def quick(**kwargs):
    """A fast training run on Task 1 (small network, few steps)."""
    task = TASKS["rectangle-to-square"]
    return train(task.start, task.target, **{"config": SMALL, "iterations": 10, **kwargs})


def test_reproducible_from_seed():
    """Same seed: identical history; another seed: a different one."""
    a, b, c = quick(seed=3), quick(seed=3), quick(seed=4)
    np.testing.assert_array_equal(a.loss_history, b.loss_history)
    np.testing.assert_array_equal(a.signals, b.signals)
    assert not np.array_equal(a.loss_history, c.loss_history)


def test_seed_does_not_touch_global_rng():
    """Training forks the random state: the caller's stream is unchanged."""
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    quick(seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_progress_called_every_iteration():
    """progress(iteration, loss) once per step, in order, with the history's losses."""
    calls = []
    result = quick(iterations=7, progress=lambda i, loss: calls.append((i, loss)))
    assert [i for i, _ in calls] == list(range(7))
    np.testing.assert_array_equal([loss for _, loss in calls], result.loss_history)


def test_cancel_checked_every_step():
    """cancel() is asked before every step; once it says yes, TrainingCancelled, no more steps."""
    events = []

    def cancel():
        events.append("cancel")
        return events.count("cancel") > 3

    with pytest.raises(TrainingCancelled):
        quick(iterations=50, progress=lambda i, loss: events.append(i), cancel=cancel)
    assert events == ["cancel", 0, "cancel", 1, "cancel", 2, "cancel"]


def test_cancel_before_first_step():
    with pytest.raises(TrainingCancelled):
        quick(cancel=lambda: True, progress=lambda i, loss: pytest.fail("trained after a cancel"))


def test_early_stop_at_tolerance():
    """Stops at the first loss below the tolerance."""
    full = quick(iterations=60)
    tolerance = float(np.quantile(full.loss_history, 0.5))
    stopped = quick(iterations=60, tolerance=tolerance)
    k = int(np.argmax(full.loss_history < tolerance))
    assert len(stopped.loss_history) == k + 1 < 60
    np.testing.assert_array_equal(stopped.loss_history, full.loss_history[:k + 1])


def test_divergence_large_lr():
    """A huge learning rate is reported as TrainingDiverged (a ValueError), not returned."""
    with pytest.raises(TrainingDiverged, match="diverged"):
        quick(lr=1e3, iterations=50)


def test_divergence_nan(monkeypatch):
    """A NaN loss stops training at once."""
    loss_and_gradient = engine.plan.Plan.loss_and_gradient
    monkeypatch.setattr(engine.plan.Plan, "loss_and_gradient", lambda *args: loss_and_gradient(*args) * float("nan"))
    progress = []
    with pytest.raises(TrainingDiverged, match="iteration 0"):
        quick(progress=lambda i, loss: progress.append(i))
    assert progress == []


@pytest.mark.parametrize("start, target, features, message", [
    ([[0, 0, 0], [1, np.nan, 0]], [[0, 0, 0], [1, 1, 0]], None, "NaN"),
    ([[0, 0, 0], [1, 1, 0]], [[0, 0, 0], [1, np.inf, 0]], None, "infinite"),
    ([[0, 0, 0]], [[1, 1, 1]], None, "at least 2 points"),
    ([[0, 0], [1, 1]], [[0, 0], [1, 1]], None, r"shape \(N, 3\)"),
    ([[0, 0, 0], [1, 0, 0]], [[0, 0, 0], [1, 0, 0], [2, 0, 0]], None, "same number of points"),
    ([[0, 0, 0], [1, 0, 0]], [[0, 0, 0], [1, 1, 0]], Features.scalar(3), "features are given for 3 points"),
    ([[0, 0, 0], ["a", 0, 0]], [[0, 0, 0], [1, 1, 0]], None, "numbers"),
], ids=["nan", "inf", "one-point", "2d", "lengths", "feature-count", "strings"])
def test_bad_inputs(start, target, features, message):
    """Bad points or features: ValueError saying what is wrong."""
    with pytest.raises(ValueError, match=message):
        train(start, target, features=features, config=SMALL, iterations=2)


@pytest.mark.parametrize("kwargs", [dict(iterations=0), dict(lr=0.0), dict(lr=-1e-3)])
def test_bad_hyper_parameters(kwargs):
    with pytest.raises(ValueError):
        quick(**kwargs)


def test_features_validate():
    """Features check their width against their irreps, finiteness and global coefficients."""
    with pytest.raises(ValueError, match="need shape"):
        Features("0e+2e", np.ones((4, 1)))
    with pytest.raises(ValueError, match="NaN"):
        Features("0e", np.full((4, 1), np.nan))
    with pytest.raises(ValueError, match="5 coefficients"):
        Features.with_global(4, 2, [1.0, 2.0])
    f = Features.with_global(3, 1, [1.0, 2.0, 3.0])
    assert o3.Irreps(f.irreps) == o3.Irreps("0e+1o") and f.values.shape == (3, 4)


def test_vector_output_trains():
    """output='vector' learns displacements directly (nothing is ever ambiguous)."""
    task = TASKS["rectangle-to-square"]
    result = train(task.start, task.target, config=ModelConfig(lmax=2, radial_neurons=16, output="vector"),
                   iterations=100, lr=1e-2)
    assert result.signals.shape == (4, 3)
    np.testing.assert_array_equal(result.displacements, result.signals)
    assert not result.ambiguous.any()
    assert result.loss_history[-1] < 0.1 * result.loss_history[0]


# --- prediction ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(TASKS))
def test_predict_reproduces_training(seed_results, name):
    """predict() on the trained model gives the training result's outputs and displacements."""
    result, task = seed_results[name], TASKS[name]
    same = predict(result.model, task.start, task.features, dtype=torch.float32)
    np.testing.assert_allclose(same.signals, result.signals, rtol=0, atol=1e-6)
    exact = predict(result.model, task.start, task.features)
    np.testing.assert_allclose(exact.signals, result.signals, rtol=0, atol=1e-4)
    for prediction in (same, exact):
        np.testing.assert_array_equal(prediction.ambiguous, result.ambiguous)
        for i, ambiguous in enumerate(result.ambiguous):
            if ambiguous:  # which tied peak comes first is arbitrary: compare the sets
                assert _same_set(prediction.peaks[i], result.peaks[i], 1e-4)
            else:
                np.testing.assert_allclose(prediction.displacements[i], result.displacements[i], atol=1e-4)
    assert next(result.model.parameters()).dtype == torch.float64  # predict leaves the model as it was


def _same_set(a, b, atol):
    distance = np.linalg.norm(a[:, None] - b[None], axis=-1)
    return len(a) == len(b) and distance.min(axis=0).max() < atol and distance.min(axis=1).max() < atol


def test_predict_is_equivariant(seed_results):
    """Predicting on a rotated start rotates the decoded displacements (Task 1, scalar inputs)."""
    result = seed_results["rectangle-to-square"]
    start = TASKS["rectangle-to-square"].start
    R = _rotation()
    a, b = predict(result.model, start), predict(result.model, start @ R.T)
    np.testing.assert_allclose(b.displacements, a.displacements @ R.T, atol=1e-8)


def _rotation():
    q = torch.randn(4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return o3.quaternion_to_matrix(q / q.norm()).numpy()


def _wigner(irreps, R):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # e3nn builds its generators in the default dtype
    try:
        return o3.Irreps(irreps).D_from_matrix(torch.as_tensor(R)).numpy()
    finally:
        torch.set_default_dtype(previous)


def test_trained_model_is_exact_in_float64(seed_results):
    """The model train() returns is a float64 model: its fixed buffers (Clebsch-Gordan
    coefficients) equal a freshly built network's, so it is equivariant to 1e-10 in float64."""
    model = seed_results["rectangle-to-square"].model
    fresh = engine.model.Network(model.config, str(model.irreps_in))
    for (name, a), (_, b) in zip(model.named_buffers(), fresh.named_buffers()):
        assert a.dtype == b.dtype and torch.equal(a, b), name
    R = _rotation()
    positions = np.random.default_rng(1).normal(size=(6, 3))
    a, b = predict(model, positions), predict(model, positions @ R.T)
    assert np.abs(b.signals - a.signals @ _wigner(model.irreps_out, R).T).max() <= 1e-10


def test_predict_in_float32_leaves_model_exact():
    """predict(dtype=float32) must not round the model's float64 buffers for later calls."""
    torch.manual_seed(0)
    model = engine.model.Network(ModelConfig(lmax=3, radial_neurons=16))
    positions = np.random.default_rng(2).normal(size=(5, 3))
    before = predict(model, positions).signals
    predict(model, positions, dtype=torch.float32)
    np.testing.assert_array_equal(predict(model, positions).signals, before)


def test_predict_rejects(seed_results):
    model = seed_results["square-to-rectangle-broken"].model
    with pytest.raises(ValueError, match="takes"):
        predict(model, square())  # scalar features for a model that wants 0e+2e
    with pytest.raises(ValueError, match="features are given"):
        predict(model, square(), Features.scalar(3))
    with pytest.raises(ValueError, match="NaN"):
        predict(model, np.full((4, 3), np.nan))


# --- learned order parameter -----------------------------------------------------------------


@pytest.fixture(scope="module", params=[0, 1, 2])
def learned(request):
    """Learned from several seeds: the result must not depend on a lucky initialisation."""
    return learn_order_parameter(square(), rectangle(), seed=request.param)


def test_learned_order_parameter_is_even(learned):
    """Square -> rectangle: at least 90% of the learned feature's norm is in L = 2 and 4."""
    norms = learned.norms
    assert set(norms) == set(range(1, 6))
    even = np.hypot(norms[2], norms[4])
    assert even >= 0.9 * np.linalg.norm(list(norms.values()))
    assert np.linalg.norm(learned.coefficients) == pytest.approx(1.0)
    assert len(learned.loss_history) == 300
    assert o3.Irreps(learned.features.irreps) == engine.model.hidden_irreps(5)
    assert learned.features.values.shape == (4, 36)


def test_learned_order_parameter_breaks_symmetry(learned):
    """Training with the learned features reaches Task 3's accuracy."""
    result = train(square(), rectangle(), features=learned.features)
    assert np.linalg.norm(result.predicted - rectangle(), axis=1).max() < 0.05
    assert not result.ambiguous.any()


def test_learning_reports_progress_and_cancels():
    calls = []
    with pytest.raises(TrainingCancelled):
        learn_order_parameter(square(), rectangle(), progress=lambda i, loss: calls.append(i),
                              cancel=lambda: len(calls) >= 3)
    assert calls == [0, 1, 2]


def test_learn_order_parameter_rejects_bad_points():
    with pytest.raises(ValueError, match="same number of points"):
        learn_order_parameter(square(), rectangle()[:3])


def test_per_point_order_parameter_breaks_symmetry():
    """A feature learned per point (one per corner) also lets square -> rectangle be learned."""
    learned = learn_order_parameter(square(), rectangle(), per_point=True)
    assert learned.coefficients.shape == (4, 35)
    assert learned.features.values.shape == (4, 36)
    result = train(square(), rectangle(), features=learned.features)
    assert np.linalg.norm(result.predicted - rectangle(), axis=1).max() < 0.05
