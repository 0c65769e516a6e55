"""Molecular dynamics set-up shared by the samplers, checks and examples."""

import numpy as np
from ase import units
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, thermalize_momenta


def langevin(
    atoms,
    temperature_K: float,
    timestep_fs: float = 0.5,
    friction_per_fs: float = 0.01,
    rng: np.random.Generator = None,
) -> Langevin:
    """Langevin dynamics of ``atoms`` with velocities drawn at ``temperature_K``.

    The centre of mass is held with ``ase.constraints.FixCom`` (ASE's advice
    instead of ``fixcm=True``) and the initial momenta sum to zero.

    Parameters
    ----------
    atoms : ase.Atoms
        Integrated in place; must carry its calculator.
    temperature_K : float
        Thermostat and initial temperature in K.
    timestep_fs, friction_per_fs : float
        Step in fs and friction in 1/fs.
    rng : numpy.random.Generator, optional
        Source of the initial velocities and of the thermostat noise.
    """
    rng = np.random.default_rng() if rng is None else rng
    atoms.set_constraint(FixCom())
    thermalize_momenta(atoms, temperature_K=temperature_K, rng=rng)
    Stationary(atoms)
    return Langevin(
        atoms,
        timestep=timestep_fs * units.fs,
        temperature_K=temperature_K,
        friction=friction_per_fs / units.fs,
        fixcm=False,
        rng=rng,
    )
