"""How long and how fast training runs (plain Python): the learning-rate schedule, the stopping
rule and the default budget of steps."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Schedule", "budget", "LR"]

# peak learning rate; the targets are at most 1 (:meth:`~engine.config.ModelConfig.in_units_of`). In
# 300 steps Suzanne's squash ended 31.7 / 19.7 / 18.5 / 22.0 % off at worst at 0.01 / 0.03 / 0.05 /
# 0.1, a swirl through a random cloud 42.1 / 38.3 / 25.2 % (1,043 steps) at 0.01 / 0.03 / 0.05
LR = 5e-2


@dataclass(frozen=True)
class Schedule:
    r"""How long and how fast training runs.

    Adam for at most ``iterations`` steps at the learning rate
    :math:`\eta_t = \eta \big(f + (1 - f)\,\tfrac12 (1 + \cos \pi t / T)\big)`: ``lr`` :math:`\eta`
    decaying to ``final_share`` :math:`f` of it at :math:`T` = ``iterations``. With a
    ``tolerance``, training stops once the loss is below ``tolerance`` times the loss of no
    motion (a zero output), or when its best value has not fallen by 1 % in the last
    ``patience`` share of the steps (at least 50): it stalls. ``tolerance=None`` runs every step.
    """

    iterations: int
    lr: float = LR
    final_share: float = 0.01
    tolerance: float | None = 1e-5
    patience: float = 0.2

    def rate(self, t: int) -> float:
        f = self.final_share
        return self.lr * (f + (1 - f) * 0.5 * (1 + math.cos(math.pi * t / self.iterations)))

    def done(self, history: list[float], still: float) -> bool:
        """Whether to stop after ``history``, given ``still``, the loss of no motion."""
        if self.tolerance is None:
            return False
        if history[-1] <= self.tolerance * still:
            return True
        window = max(50, int(self.patience * self.iterations))
        return len(history) > window and min(history[-window:]) > 0.99 * min(history[:-window])


def budget(num_edges: int) -> int:
    r"""Default most steps on a graph of :math:`E` edges: :math:`\mathrm{clip}(4 \cdot 10^6 / E, 500, 2000)`,
    a bound on the work; training usually stops earlier, at its tolerance. At least 500: with four
    channels Suzanne's squash (16,000 edges) ended 5.1 % off at worst after 300 steps, and 4.1 or
    5.0 % after 400 (the same problem, summed in another order)."""
    return min(max(round(4e6 / max(num_edges, 1)), 500), 2000)
