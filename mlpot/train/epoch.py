"""One epoch of training: optimisation steps on the batches, and the weight average."""

from typing import Dict, Sequence

import torch

from mlpot import keys
from mlpot.graph import AtomicGraph
from mlpot.model.base import Potential
from mlpot.model.forces import energy_and_forces
from mlpot.train.config import TrainConfig
from mlpot.train.ema import WeightAverage
from mlpot.train.losses import weighted_loss
from mlpot.train.metrics import ErrorAccumulator


def train_one_epoch(
    model: Potential,
    average: WeightAverage,
    optimizer: torch.optim.Optimizer,
    batches: Sequence[AtomicGraph],
    settings: TrainConfig,
) -> Dict[str, float]:
    """One pass over the training batches, updating the weights and their average.

    Parameters
    ----------
    model : Potential
        Trained in place.
    average : WeightAverage
        Updated after every step.
    optimizer : torch.optim.Optimizer
    batches : sequence of AtomicGraph
        Labelled batches, e.g. from :func:`mlpot.train.batches.epoch_batches`.
    settings : TrainConfig
        Loss weights and gradient clipping.

    Returns
    -------
    dict of str to float
        Errors of the predictions made during the epoch (keys of
        :data:`mlpot.train.metrics.ERROR_NAMES`, eV and eV/Å) and ``loss``,
        the mean loss over the batches.
    """
    model.train()
    errors = ErrorAccumulator()
    total = 0.0
    for batch in batches:
        loss, out = train_step(model, optimizer, batch, settings)
        average.update(model)
        total += loss
        errors.add(
            out[keys.ENERGY],
            batch[keys.ENERGY],
            batch[keys.NUM_ATOMS],
            out[keys.FORCES],
            batch[keys.FORCES],
        )
    model.eval()
    return {**errors.result(), "loss": total / len(batches)}


def train_step(
    model: Potential,
    optimizer: torch.optim.Optimizer,
    batch: AtomicGraph,
    settings: TrainConfig,
):
    """One optimisation step on ``batch``.

    Returns
    -------
    loss : float
        The weighted loss before the step.
    prediction : dict
        ``energy`` (B,) eV and ``forces`` (N, 3) eV/Å before the step, detached.
    """
    optimizer.zero_grad(set_to_none=True)
    out = energy_and_forces(model, batch, training=True)
    loss = weighted_loss(
        out,
        batch,
        settings.energy_weight,
        settings.forces_weight,
        float(model.energy_scale),
    )
    loss.backward()
    if settings.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
    optimizer.step()
    return float(loss.detach()), {k: v.detach() for k, v in out.items()}
