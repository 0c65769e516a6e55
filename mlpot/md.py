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


class SpreadExceeded(RuntimeError):
    """A committee's force spread went above the guard's threshold."""


class SpreadGuard:
    """An ASE dynamics observer that watches a committee's force spread.

    Attach it to any ASE dynamics whose atoms carry a
    :class:`mlpot.calculator.CommitteeCalculator`::

        guard = SpreadGuard(atoms, threshold=0.5)
        dyn.attach(guard, interval=1)
        dyn.run(2000)          # raises SpreadExceeded if the spread passes 0.5 eV/Å

    Parameters
    ----------
    atoms : ase.Atoms
        The integrated atoms.
    threshold : float
        Largest acceptable ``max_forces_std`` in eV/Å.
    stop : bool
        Raise :class:`SpreadExceeded` (ending ``dyn.run``) when the spread
        passes ``threshold``; with False, warn once and go on.

    Attributes
    ----------
    history : list of float
        ``max_forces_std`` in eV/Å at every call.
    """

    def __init__(self, atoms, threshold: float, stop: bool = True):
        if not threshold > 0:
            raise ValueError(f"threshold must be positive (eV/Å), got {threshold}")
        self.atoms = atoms
        self.threshold = float(threshold)
        self.stop = stop
        self.history = []
        self._warned = False

    def __call__(self) -> None:
        spread = float(self.atoms.calc.get_property("max_forces_std", self.atoms))
        self.history.append(spread)
        if spread <= self.threshold:
            return
        message = (
            f"the committee's force spread reached {spread:.3g} eV/Å after "
            f"{len(self.history)} observations, above {self.threshold:g} eV/Å: the "
            "trajectory has left the region the model was trained on"
        )
        if self.stop:
            raise SpreadExceeded(message)
        if not self._warned:
            self._warned = True
            import warnings

            warnings.warn(message, RuntimeWarning, stacklevel=2)
