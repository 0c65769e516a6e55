"""Energy and force errors (MAE, RMSE) accumulated over batches; reporting units."""

import math
from typing import Dict

import torch
from ase import units

# Errors as computed, in eV (per structure or per atom) and eV/Å (per force component).
ERROR_NAMES = (
    "energy_mae",
    "energy_rmse",
    "energy_per_atom_mae",
    "energy_per_atom_rmse",
    "forces_mae",
    "forces_rmse",
)
KCAL_PER_MOL = units.kcal / units.mol  # in eV


class ErrorAccumulator:
    """Sums of absolute and squared errors, added batch by batch.

    Energies are compared per structure (and per atom: the structure's error
    divided by its number of atoms); forces per Cartesian component.
    """

    def __init__(self):
        self._sums = torch.zeros(6, dtype=torch.float64)
        self._structures = 0
        self._components = 0

    def add(self, energy_pred, energy_ref, num_atoms, forces_pred, forces_ref) -> None:
        """Add the errors of one batch.

        Parameters
        ----------
        energy_pred, energy_ref : Tensor, shape (B,)
            Total energies in eV.
        num_atoms : Tensor, shape (B,)
            Atoms per structure.
        forces_pred, forces_ref : Tensor, shape (N, 3), or None
            Forces in eV/Å; None for energy-only data.
        """
        energy = (energy_pred.detach().double() - energy_ref.double()).cpu()
        per_atom = energy / num_atoms.cpu().double()
        if forces_ref is None or forces_pred is None:
            forces = torch.zeros(0, 3, dtype=torch.float64)
        else:
            forces = (forces_pred.detach().double() - forces_ref.double()).cpu()
        self._sums += torch.stack(
            [
                energy.abs().sum(),
                energy.square().sum(),
                per_atom.abs().sum(),
                per_atom.square().sum(),
                forces.abs().sum(),
                forces.square().sum(),
            ]
        )
        self._structures += energy.numel()
        self._components += forces.numel()

    def sum_over(self, workers) -> None:
        """Add up the sums and counts of all data-parallel ``workers``."""
        if workers.world_size == 1:
            return
        counts = torch.tensor([self._structures, self._components], dtype=torch.float64)
        workers.sum_(self._sums)
        workers.sum_(counts)
        self._structures, self._components = int(counts[0]), int(counts[1])

    def result(self) -> Dict[str, float]:
        """MAE and RMSE of everything added, keys of `ERROR_NAMES`, in eV and eV/Å.

        The force errors are NaN when no forces were added (energy-only data).
        """
        if not self._structures:
            raise ValueError("no errors were added; evaluate at least one structure")
        counts = [self._structures] * 4 + [self._components] * 2
        means = [
            float(s) / n if n else math.nan
            for s, n in zip(self._sums, counts, strict=True)
        ]
        return {
            name: math.sqrt(mean) if name.endswith("rmse") else mean
            for name, mean in zip(ERROR_NAMES, means, strict=True)
        }


def error_metrics(energy_pred, energy_ref, num_atoms, forces_pred, forces_ref):
    """MAE and RMSE of energies (eV, eV/atom) and forces (eV/Å) of a whole set.

    Parameters are those of `ErrorAccumulator.add`, for all structures at once.

    Returns
    -------
    dict of str to float
        Keys of `ERROR_NAMES`.
    """
    accumulator = ErrorAccumulator()
    accumulator.add(energy_pred, energy_ref, num_atoms, forces_pred, forces_ref)
    return accumulator.result()


def in_mev(errors: Dict[str, float]) -> Dict[str, float]:
    """Errors in meV and meV/Å, with the unit in each key.

    ``{"energy_mae": 0.002, "forces_mae": 0.01}`` becomes
    ``{"energy_mae_meV": 2.0, "forces_mae_meV_per_A": 10.0}``.
    """
    return {
        f"{name}{_suffix(name, 'meV')}": 1000.0 * value
        for name, value in errors.items()
    }


def in_kcal_per_mol(errors: Dict[str, float]) -> Dict[str, float]:
    """Errors in kcal/mol and kcal/mol/Å, with the unit in each key."""
    return {
        f"{name}{_suffix(name, 'kcal_mol')}": value / KCAL_PER_MOL
        for name, value in errors.items()
    }


def _suffix(name: str, energy_unit: str) -> str:
    # "energy_per_atom_mae" already says per atom; forces are per Å.
    return f"_{energy_unit}_per_A" if name.startswith("forces") else f"_{energy_unit}"
