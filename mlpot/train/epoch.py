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


class TrainingPass(torch.nn.Module):
    """Energies and forces of a batch with the graph of the derivatives kept.

    The forward pass of a training step as a module, which is what
    :meth:`Workers.parallel <mlpot.train.distributed.Workers.parallel>` wraps.

    Parameters
    ----------
    model : Potential
    compute_forces : bool
        False for training on energies only.
    """

    def __init__(self, model: Potential, compute_forces: bool):
        super().__init__()
        self.model = model
        self.compute_forces = compute_forces

    def forward(self, batch: AtomicGraph) -> Dict[str, torch.Tensor]:
        """See :func:`mlpot.model.forces.energy_and_forces` (``training=True``)."""
        return energy_and_forces(
            self.model, batch, compute_forces=self.compute_forces, training=True
        )


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
    forward = workers.parallel(TrainingPass(model, settings.forces_weight > 0))
    errors = ErrorAccumulator()
    total = torch.zeros((), dtype=torch.float64)
    for batch in batches:
        loss, out = train_step(model, optimizer, batch, settings, forward, workers)
        average.update(model)
        total += loss
        if float(batch.get(keys.SHARE_WEIGHT, 1.0)) > 0:
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
    batch: AtomicGraph,
    settings: TrainConfig,
    forward: Optional[torch.nn.Module] = None,
    workers: Workers = SINGLE_PROCESS,
):
    """One optimisation step on ``batch`` (this worker's share of it).

    Parameters
    ----------
    model : Potential
    optimizer : torch.optim.Optimizer
    batch : AtomicGraph
        Labelled; a worker's share carries ``share_weight`` and the size of the
        whole batch (see :func:`mlpot.train.batches.epoch_batches`).
    settings : TrainConfig
        Loss weights and gradient clipping.
    forward : torch.nn.Module, optional
        The model's :class:`TrainingPass`, wrapped by ``workers.parallel``
        when there are several workers; made here when not given.
    workers : Workers

    Returns
    -------
    loss : float
        The weighted loss of the share before the step (0 for a share of
        weight 0).
    prediction : dict
        ``energy`` (B,) eV and, unless ``settings.forces_weight`` is 0 (energy
        training, where forces are not computed), ``forces`` (N, 3) eV/Å
        before the step, detached.
    """
    if forward is None:
        forward = TrainingPass(model, settings.forces_weight > 0)
    optimizer.zero_grad(set_to_none=True)
    out = forward(batch)
    weighted = batch.get(keys.SHARE_WEIGHT, 1.0) * weighted_loss(
        out,
        batch,
        settings.energy_weight,
        settings.forces_weight,
        float(model.energy_scale),
        settings.energy_loss,
        settings.huber_delta if settings.loss == "huber" else None,
    )
    # The parallel wrapper averages the workers' gradients; the shares' losses add up.
    (weighted * workers.world_size).backward()
    if settings.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
    optimizer.step()
    return float(weighted.detach()), {k: v.detach() for k, v in out.items()}
