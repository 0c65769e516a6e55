"""The training loss: weighted squared errors of per-atom energies and forces."""

from typing import Dict

import torch

from mlpot import keys
from mlpot.graph import AtomicGraph


def weighted_loss(
    prediction: Dict[str, torch.Tensor],
    batch: AtomicGraph,
    energy_weight: float,
    forces_weight: float,
    energy_scale: float,
) -> torch.Tensor:
    """Dimensionless loss of one batch.

    ``(w_E * mean_b((ΔE_b / N_b)^2) + w_F * mean_ia(ΔF_ia^2)) / energy_scale^2``,
    with ΔE_b the error of structure b's energy (eV), N_b its number of atoms,
    and ΔF_ia the error of force component a on atom i (eV/Å).

    Parameters
    ----------
    prediction : dict
        ``energy`` (B,) eV and ``forces`` (N, 3) eV/Å, from
        `mlpot.model.forces.energy_and_forces`.
    batch : AtomicGraph
        With labels ``energy`` (B,) and ``forces`` (N, 3) and ``num_atoms`` (B,);
        for a worker's share of a batch also ``total_structures`` and
        ``total_atoms``, the size of the whole batch the means are taken over.
    energy_weight, forces_weight : float
        Weights of the two terms.
    energy_scale : float
        The model's energy scale in eV, which makes the loss dimensionless.

    Returns
    -------
    Tensor, shape ()
        float64.
    """
    per_atom = (prediction[keys.ENERGY] - batch[keys.ENERGY]) / batch[keys.NUM_ATOMS]
    # Means over the whole batch, also when this is one worker's share of it.
    structures = batch.get(keys.TOTAL_STRUCTURES, per_atom.numel())
    total = energy_weight * per_atom.square().sum() / structures
    if forces_weight > 0:
        if keys.FORCES not in batch:
            raise ValueError(
                "the training frames have no forces, but train.forces_weight is "
                f"{forces_weight}; set train.forces_weight: 0 to train on energies"
            )
        forces = prediction[keys.FORCES].double() - batch[keys.FORCES]
        components = 3 * batch.get(keys.TOTAL_ATOMS, forces.shape[0])
        total = total + forces_weight * forces.square().sum() / components
    return total / energy_scale**2


def loss_from_errors(
    errors: Dict[str, float],
    energy_weight: float,
    forces_weight: float,
    energy_scale: float,
) -> float:
    """The weighted loss over a whole set, from its per-atom energy and force RMSE.

    Parameters
    ----------
    errors : dict
        With ``energy_per_atom_rmse`` (eV) and ``forces_rmse`` (eV/Å), as from
        `mlpot.train.metrics.ErrorAccumulator.result`.
    energy_weight, forces_weight, energy_scale : float
        As in `weighted_loss`.

    Returns
    -------
    float
    """
    total = energy_weight * errors["energy_per_atom_rmse"] ** 2
    if forces_weight > 0:
        total += forces_weight * errors["forces_rmse"] ** 2
    return total / energy_scale**2
