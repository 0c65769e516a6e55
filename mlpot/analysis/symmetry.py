"""Numerical checks of a potential's symmetries."""

from typing import Dict

import torch
from e3nn.util.test import equivariance_error

from mlpot import keys
from mlpot.graph import from_atoms
from mlpot.model.forces import energy_and_forces


def equivariance_errors(
    model, atoms, ntrials: int = 5, dtype=torch.float64, seed: int = 0
) -> Dict[str, float]:
    """Largest change of energy and forces under rotations, inversions, translations.

    Measured by :func:`e3nn.util.test.equivariance_error` on ``positions →
    (energy, forces)`` with irreps ``cartesian_points → 0e + 1o``: for each
    trial a random rotation, with and without inversion, and with and without
    a random translation. The neighbour graph is built once, since these
    transformations preserve all distances.

    Parameters
    ----------
    model : mlpot.model.Potential
    atoms : ase.Atoms
        A free molecule.
    ntrials : int
        Random transformations of each kind.
    dtype : torch.dtype
        Precision the model is evaluated in.
    seed : int
        Seed of the random transformations.

    Returns
    -------
    dict
        ``energy`` in eV and ``forces`` in eV/Å: the largest absolute
        component-wise deviation over all trials.
    """
    graph = from_atoms(atoms, model.r_max, dtype=dtype)

    def energy_and_forces_at(positions):
        out = energy_and_forces(model, {**graph, keys.POSITIONS: positions.to(dtype)})
        return out[keys.ENERGY].detach().double(), out[keys.FORCES].detach().double()

    # e3nn draws its random rotations in the default dtype; float32 rotations
    # would show up as force errors of ~1e-7 relative.
    default_dtype = torch.get_default_dtype()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        torch.set_default_dtype(torch.float64)
        try:
            errors = equivariance_error(
                energy_and_forces_at,
                [graph[keys.POSITIONS].double()],
                irreps_in=["cartesian_points"],
                irreps_out=["0e", "1o"],
                ntrials=ntrials,
            )
        finally:
            torch.set_default_dtype(default_dtype)
    worst = torch.stack([torch.as_tensor(e) for e in errors.values()]).amax(dim=0)
    return {"energy": float(worst[0]), "forces": float(worst[1])}
