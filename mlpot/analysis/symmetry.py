"""Numerical checks of a potential's symmetries."""

from typing import Dict

import torch
from e3nn import o3

from mlpot import keys
from mlpot.graph import from_atoms
from mlpot.model.forces import energy_and_forces


def equivariance_errors(
    model, atoms, ntrials: int = 5, dtype=torch.float64, seed: int = 0
) -> Dict[str, float]:
    """Largest change of energy and forces under rotations, inversions, translations.

    For each trial a random rotation ``R`` (uniform on SO(3), from
    :func:`e3nn.o3.rand_matrix`), the improper rotation ``-R``, and a random
    translation are applied to the positions; the energy must not change and
    the forces must transform as ``F @ Q.T``. The neighbour graph is built
    once, since these transformations preserve all distances.

    Parameters
    ----------
    model : mlpot.model.Potential
    atoms : ase.Atoms
        A free molecule.
    ntrials : int
        Random rotations; each is tried proper and improper.
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
    positions = graph[keys.POSITIONS]
    reference = {k: v.detach() for k, v in energy_and_forces(model, graph).items()}
    generator = torch.Generator().manual_seed(seed)
    worst = {"energy": 0.0, "forces": 0.0}
    for _ in range(ntrials):
        with torch.random.fork_rng():
            torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=generator)))
            rotation = o3.rand_matrix(dtype=torch.float64)
        translation = 5.0 * torch.randn(1, 3, generator=generator, dtype=torch.float64)
        for transform in (rotation, -rotation):
            moved = (positions.double() @ transform.T + translation).to(dtype)
            out = energy_and_forces(model, {**graph, keys.POSITIONS: moved})
            out = {k: v.detach() for k, v in out.items()}
            expected_forces = reference[keys.FORCES].double() @ transform.T
            energy_error = (out[keys.ENERGY] - reference[keys.ENERGY]).abs().max()
            forces_error = (out[keys.FORCES].double() - expected_forces).abs().max()
            worst["energy"] = max(worst["energy"], float(energy_error))
            worst["forces"] = max(worst["forces"], float(forces_error))
    return worst
