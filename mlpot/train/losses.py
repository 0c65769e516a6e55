"""The training loss: weighted squared (or Huber) errors of energies and forces."""

from typing import Dict, Optional

import torch

from mlpot import keys
from mlpot.graph import AtomicGraph


def weighted_loss(
    prediction: Dict[str, torch.Tensor],
    batch: AtomicGraph,
    energy_weight: float,
    forces_weight: float,
    energy_scale: float,
    energy_loss: str = "per_atom",
    huber_delta: Optional[float] = None,
) -> torch.Tensor:
    """Dimensionless loss of one batch.

    ``(w_E * mean_b(ρ(ΔE_b / N_b)) + w_F * mean_ia(ρ(ΔF_ia))) / energy_scale^2``,
    with ΔE_b the error of structure b's energy (eV), N_b its number of atoms
    (1 when ``energy_loss`` is ``"total"``), ΔF_ia the error of force component
    a on atom i (eV/Å), and ρ(x) = x² or, with ``huber_delta`` δ, the Huber
    function scaled to equal x² for |x| ≤ δ and 2δ|x| - δ² beyond.

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
    energy_loss : str
        ``"per_atom"`` (errors of energies per atom) or ``"total"``.
    huber_delta : float, optional
        Where the Huber function turns from quadratic to linear, in eV (per
        atom) and eV/Å; None for squared errors.

    Returns
    -------
    Tensor, shape ()
        float64.
    """
    energy = prediction[keys.ENERGY] - batch[keys.ENERGY]
    if energy_loss == "per_atom":
        energy = energy / batch[keys.NUM_ATOMS]
    # Means over the whole batch, also when this is one worker's share of it.
    structures = batch.get(keys.TOTAL_STRUCTURES, energy.numel())
    total = energy_weight * _penalty(energy, huber_delta) / structures
    if forces_weight > 0:
        if keys.FORCES not in batch:
            raise ValueError(
                "the training frames have no forces, but train.forces_weight is "
                f"{forces_weight}; set train.forces_weight: 0 to train on energies"
            )
        forces = prediction[keys.FORCES].double() - batch[keys.FORCES]
        components = 3 * batch.get(keys.TOTAL_ATOMS, forces.shape[0])
        total = total + forces_weight * _penalty(forces, huber_delta) / components
    return total / energy_scale**2


def _penalty(errors: torch.Tensor, huber_delta: Optional[float]) -> torch.Tensor:
    """Sum of squared errors, or of twice the Huber function (equal below δ)."""
    if huber_delta is None:
        return errors.square().sum()
    zeros = torch.zeros_like(errors)
    return 2 * torch.nn.functional.huber_loss(
        errors, zeros, reduction="sum", delta=huber_delta
    )


def loss_from_errors(
    errors: Dict[str, float],
    energy_weight: float,
    forces_weight: float,
    energy_scale: float,
    energy_loss: str = "per_atom",
) -> float:
    """The weighted squared-error loss over a whole set, from its RMSEs.

    With the Huber loss too, this squared-error form is what validation
    reports: the Huber sum needs each error, not their RMSE.

    Parameters
    ----------
    errors : dict
        With ``energy_per_atom_rmse`` or ``energy_rmse`` (eV) and
        ``forces_rmse`` (eV/Å), as from
        `mlpot.train.metrics.ErrorAccumulator.result`.
    energy_weight, forces_weight, energy_scale : float
    energy_loss : str
        As in `weighted_loss`.

    Returns
    -------
    float
    """
    energy = "energy_per_atom_rmse" if energy_loss == "per_atom" else "energy_rmse"
    total = energy_weight * errors[energy] ** 2
    if forces_weight > 0:
        total += forces_weight * errors["forces_rmse"] ** 2
    return total / energy_scale**2


def describe_loss(
    loss: str,
    huber_delta: Optional[float],
    energy_weight: float,
    forces_weight: float,
    energy_loss: str = "per_atom",
) -> str:
    """The loss in words, for the run's summary and the model card.

    Parameters
    ----------
    loss : str
        ``"huber"`` or ``"mse"``, as ``train.loss``.
    huber_delta : float or None
        Where the Huber function turns linear (eV/Å, and eV of the energy
        term); not used for ``"mse"``.
    energy_weight, forces_weight : float
    energy_loss : str
        As in `weighted_loss`.

    Examples
    --------
    >>> describe_loss("huber", 0.01, 1.0, 100.0)
    'Huber (δ 0.01 eV/Å, eV of energy per atom); weights energy per atom 1, forces 100'
    """
    energy = "energy per atom" if energy_loss == "per_atom" else "energy"
    penalty = (
        f"Huber (δ {huber_delta:g} eV/Å, eV of {energy})"
        if loss == "huber"
        else "squared errors"
    )
    return f"{penalty}; weights {energy} {energy_weight:g}, forces {forces_weight:g}"
