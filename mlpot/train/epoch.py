"""One epoch of training: optimisation steps on the batches, and the weight average."""

from typing import Dict, Optional, Sequence

import torch

from mlpot import keys
from mlpot.graph import AtomicGraph
from mlpot.model.base import Potential
from mlpot.model.forces import energy_and_forces
from mlpot.train.config import TrainConfig
from mlpot.train.distributed import SINGLE_PROCESS, Workers
from mlpot.train.ema import WeightAverage
from mlpot.train.losses import weighted_loss
from mlpot.train.metrics import ErrorAccumulator


def train_one_epoch(
    model: Potential,
    average: WeightAverage,
    optimizer: torch.optim.Optimizer,
    batches: Sequence[AtomicGraph],
    settings: TrainConfig,
    workers: Workers = SINGLE_PROCESS,
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
    workers : Workers
        Data-parallel workers: the batches are this worker's shares (see
        :func:`mlpot.train.batches.epoch_batches`); gradients, losses and
        errors are summed over all workers.

    Returns
    -------
    dict of str to float
        Errors of the predictions made during the epoch (keys of
        :data:`mlpot.train.metrics.ERROR_NAMES`, eV and eV/Å) and ``loss``,
        the mean loss over the batches.
    """
    model.train()
    errors = ErrorAccumulator()
    total = torch.zeros((), dtype=torch.float64)
    for batch in batches:
        loss, out = train_step(model, optimizer, batch, settings, workers)
        average.update(model)
        total += loss
        if batch is not None:
            errors.add(
                out[keys.ENERGY],
                batch[keys.ENERGY],
                batch[keys.NUM_ATOMS],
                out.get(keys.FORCES),
                batch.get(keys.FORCES),
            )
    model.eval()
    errors.sum_over(workers)
    return {**errors.result(), "loss": float(workers.sum_(total)) / len(batches)}


def train_step(
    model: Potential,
    optimizer: torch.optim.Optimizer,
    batch: Optional[AtomicGraph],
    settings: TrainConfig,
    workers: Workers = SINGLE_PROCESS,
):
    """One optimisation step on ``batch`` (this worker's share of it, or None).

    Returns
    -------
    loss : float
        The weighted loss before the step.
    prediction : dict
        ``energy`` (B,) eV and, unless ``settings.forces_weight`` is 0 (energy
        training, where forces are not computed), ``forces`` (N, 3) eV/Å
        before the step, detached (empty when ``batch`` is None).
    """
    optimizer.zero_grad(set_to_none=True)
    loss, out = 0.0, {}
    if batch is not None:  # None: this worker only adds up the others' gradients
        out = energy_and_forces(
            model, batch, compute_forces=settings.forces_weight > 0, training=True
        )
        weighted = weighted_loss(
            out,
            batch,
            settings.energy_weight,
            settings.forces_weight,
            float(model.energy_scale),
        )
        weighted.backward()
        loss, out = float(weighted.detach()), {k: v.detach() for k, v in out.items()}
    workers.sum_gradients(model.parameters())
    if settings.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
    optimizer.step()
    return loss, out
