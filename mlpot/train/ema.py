"""Exponential moving average of a model's weights, for validation and checkpoints."""

import copy
from typing import Any, Dict

import torch

from mlpot.model.base import Potential


class WeightAverage:
    """A copy of a model whose parameters follow an exponential moving average.

    After each optimisation step, ``average ← average + (1 - d) (weights - average)``
    with ``d = min(decay, (1 + n) / (10 + n))`` after ``n`` earlier updates: the
    warm-up keeps the average from being dominated by the random initialisation.

    Parameters
    ----------
    model : Potential
        The model being trained; copied, with its buffers (normalisation).
    decay : float
        Decay in [0, 1); 0 makes the average equal to the latest weights.
    """

    def __init__(self, model: Potential, decay: float):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay
        self.num_updates = 0

    @torch.no_grad()
    def update(self, model: Potential) -> None:
        """Move the average towards the current parameters of ``model``."""
        decay = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        for average, current in zip(
            self.model.parameters(), model.parameters(), strict=True
        ):
            average.lerp_(current, 1.0 - decay)
        self.num_updates += 1

    def state_dict(self) -> Dict[str, Any]:
        """Averaged weights and the number of updates."""
        return {"model": self.model.state_dict(), "num_updates": self.num_updates}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.model.load_state_dict(state["model"])
        self.num_updates = int(state["num_updates"])
