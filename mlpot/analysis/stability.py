"""Does a potential keep a molecule intact in hot molecular dynamics?"""

from typing import Dict

import numpy as np
from ase.md.velocitydistribution import ZeroRotation

from mlpot.geometry.internal import bond_lengths, bonded_pairs, group_by_elements
from mlpot.md import langevin


def langevin_bond_check(
    atoms,
    calculator,
    temperature_K: float = 500.0,
    duration_ps: float = 2.0,
    timestep_fs: float = 0.5,
    friction_per_fs: float = 0.01,
    interval: int = 10,
    seed: int = 0,
) -> Dict:
    """Run Langevin MD and report how far covalent bonds stray from their start.

    Bonds are taken from the starting geometry (covalent radii, see
    :func:`mlpot.geometry.internal.bonded_pairs`) and followed through the run.

    Parameters
    ----------
    atoms : ase.Atoms
        Starting structure (copied; the original is not moved).
    calculator : ase.calculators.calculator.Calculator
        The potential.
    temperature_K, duration_ps, timestep_fs, friction_per_fs : float
        Thermostat temperature (K), length (ps), step (fs) and friction (1/fs).
    interval : int
        Steps between recorded frames.
    seed : int
        Seed of the initial velocities and the Langevin noise.

    Returns
    -------
    dict
        ``steps``, ``mean_temperature_K``, ``max_relative_deviation`` (largest
        |r - r_0| / r_0 over all bonds and frames), ``intact`` (every bond within
        [0.7, 1.5] r_0 throughout) and ``bonds``: per element pair the
        starting, minimum and maximum length in Å.
    """
    atoms = atoms.copy()
    atoms.calc = calculator
    rng = np.random.default_rng(seed)
    dynamics = langevin(atoms, temperature_K, timestep_fs, friction_per_fs, rng)
    ZeroRotation(atoms)
    pairs = bonded_pairs(atoms)
    start = bond_lengths(atoms, pairs)
    steps = int(round(duration_ps * 1000 / timestep_fs))
    positions, temperatures = [], []

    def record():
        positions.append(atoms.positions.copy())
        temperatures.append(atoms.get_temperature())

    dynamics.attach(record, interval=interval)
    dynamics.run(steps)
    lengths = bond_lengths(np.array(positions), pairs)
    ratio = lengths / start
    by_pair = group_by_elements(lengths, pairs, atoms.numbers)
    start_by_pair = group_by_elements(start[None], pairs, atoms.numbers)
    return {
        "steps": steps,
        "mean_temperature_K": float(np.mean(temperatures)),
        "max_relative_deviation": float(np.abs(ratio - 1).max()),
        "intact": bool(((ratio > 0.7) & (ratio < 1.5)).all()),
        "bonds": {
            name: {
                "start_A": float(start_by_pair[name].mean()),
                "min_A": float(values.min()),
                "max_A": float(values.max()),
            }
            for name, values in by_pair.items()
        },
    }
