"""Predictions and errors of a model on labelled graphs."""

from typing import Dict, Sequence

import torch

from mlpot import keys
from mlpot.graph import AtomicGraph
from mlpot.model.base import Potential
from mlpot.model.forces import energy_and_forces
from mlpot.train.batches import fixed_batches
from mlpot.train.metrics import ErrorAccumulator


def evaluate(
    model: Potential, graphs: Sequence[AtomicGraph], batch_size: int = 16
) -> Dict[str, float]:
    """Energy and force errors of ``model`` on labelled graphs.

    Parameters
    ----------
    model : Potential
        Evaluated as it is (put it in eval mode; the caller's mode is kept).
    graphs : sequence of AtomicGraph
        Graphs (or batches) with ``energy`` and ``forces`` labels (or only
        ``energy``: the force errors are then NaN), e.g. from
        :func:`mlpot.train.batches.labelled_graphs`.
    batch_size : int
        Graphs per forward pass.

    Returns
    -------
    dict of str to float
        ``energy_mae``, ``energy_rmse`` (eV per structure),
        ``energy_per_atom_mae``, ``energy_per_atom_rmse`` (eV/atom),
        ``forces_mae``, ``forces_rmse`` (eV/Å, per component).
    """
    errors = ErrorAccumulator()
    for batch in fixed_batches(graphs, batch_size):
        out = energy_and_forces(model, batch, compute_forces=keys.FORCES in batch)
        errors.add(
            out[keys.ENERGY],
            batch[keys.ENERGY],
            batch[keys.NUM_ATOMS],
            out.get(keys.FORCES),
            batch.get(keys.FORCES),
        )
    return errors.result()


def predict(
    model: Potential, graphs: Sequence[AtomicGraph], batch_size: int = 16
) -> Dict[str, torch.Tensor]:
    """Energies and forces predicted for each graph, in the graphs' order.

    Parameters
    ----------
    model : Potential
        The model; use it in eval mode.
    graphs : sequence of AtomicGraph
        Structures (labels not needed).
    batch_size : int
        Graphs per forward pass.

    Returns
    -------
    dict
        ``energy`` (F,) float64 in eV and ``forces`` (A, 3) float64 in eV/Å,
        atoms in the graphs' order.
    """
    energies, forces = [], []
    for batch in fixed_batches(graphs, batch_size):
        out = energy_and_forces(model, batch)
        energies.append(out[keys.ENERGY].detach())
        forces.append(out[keys.FORCES].detach().double())
    return {keys.ENERGY: torch.cat(energies), keys.FORCES: torch.cat(forces)}
