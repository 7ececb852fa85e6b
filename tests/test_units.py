"""Training in units of the mesh: outputs at initialisation of the order of the targets at every
density, the same task trained the same at any scale, and the schedule's stopping rule."""

import numpy as np
import pytest
import torch

from engine import api, training
from engine.graph import Graph
from engine.network import Network
from engine.schedule import Schedule, budget
from engine.signals import encode

SMALL = api.ModelConfig(lmax=2, radial_neurons=16)


def _cloud(n: int, seed: int = 0) -> np.ndarray:
    """``n`` random points, a quarter of them packed into a ball 1/10 the size: dense and sparse vertices."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(-1.0, 1.0, (n, 3)) * np.cbrt(n / 8)
    points[: n // 4] *= 0.1
    return points


@pytest.mark.parametrize("n", [4, 500, 2000])
def test_outputs_at_initialisation_are_of_the_order_of_the_targets(n):
    """|output| at initialisation against the targets (at most 1 in the mesh's units) on a
    radius graph where the densest vertex has tens of times the neighbours of the sparsest:
    no vertex starts far above the targets."""
    points = _cloud(n)
    radius = None if n <= api.MAX_ALL_PAIRS else 2.0
    config = api.ModelConfig(radius=radius).in_units_of(points, 0.1 * points)
    graph = Graph.of(config, points)
    degrees = graph.neighbours.numpy()
    assert n <= api.MAX_ALL_PAIRS or degrees.max() > 20 * degrees.min()  # the test means something
    network = Network(config, "0e", generator=torch.Generator().manual_seed(0)).double()
    with torch.no_grad():
        output = network(torch.ones(n, 1, dtype=torch.float64), graph).numpy()
    goal = encode(0.1 * points / config.unit, config.lmax)
    ratio = np.linalg.norm(output, axis=1).max() / np.linalg.norm(goal, axis=1).max()
    assert 1e-3 < ratio < 1.0, ratio


def test_the_same_task_trains_the_same_at_any_scale():
    """A task scaled by 1e-3, 1 and 1e6 ends the same share of its displacement off target."""
    task = api.TASKS["rectangle-to-square"]
    errors = []
    for scale in (1e-3, 1.0, 1e6):
        result = api.train(task.start * scale, task.target * scale, config=SMALL, iterations=60)
        errors.append(result.fit.max_error)
        assert result.model  # a model in the mesh's units
    np.testing.assert_allclose(errors, errors[1], rtol=1e-3)
    assert errors[1] < 0.5


def test_stops_at_tolerance_and_when_stalled():
    """Stops once the loss is below tolerance × the loss of no motion, or after a stalled window."""
    still = 1.0
    schedule = Schedule(1000, tolerance=1e-3)
    assert schedule.done([0.5, 1e-3], still)
    assert not schedule.done([0.5, 2e-3], still)
    falling = list(np.geomspace(1.0, 0.01, 300))
    assert not schedule.done(falling, still)
    flat = falling + [falling[-1]] * 200
    assert schedule.done(flat, still)
    assert not Schedule(1000, tolerance=None).done(flat, still)


def test_schedule_decays_from_lr_to_its_final_share():
    schedule = Schedule(100, lr=1e-2, final_share=0.01)
    assert schedule.rate(0) == pytest.approx(1e-2)
    assert schedule.rate(100) == pytest.approx(1e-4)
    rates = [schedule.rate(t) for t in range(101)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_budget_bounds_the_work():
    assert budget(16) == 2000 and budget(10**6) == 500
    assert budget(8_000) == 500 < budget(4_000) == 1000 < 2000
    assert api.training_budget(10_000) == budget(10_000)


def test_default_training_stops_once_it_fits():
    """The seed's Task 1 with the defaults: fit to 1e-3 of its displacement, well before the budget."""
    task = api.TASKS["rectangle-to-square"]
    result = api.train(task.start, task.target, config=api.ModelConfig())
    assert result.fit.max_error < 1e-2
    assert len(result.loss_history) < api.training_budget(16)
