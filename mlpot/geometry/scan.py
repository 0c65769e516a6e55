"""Torsion scans: turn one dihedral over the circle, rigidly or relaxing the rest.

`rigid_scan` rotates the c side of the bond b-c rigidly; `relaxed_scan` also
relaxes everything else with the dihedral held by ``ase.constraints.FixInternals``;
`profile_summary` reads the barrier and the n-fold symmetry error off a profile.
Energies are in eV; angles in degrees.
"""

from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.constraints import FixInternals
from ase.optimize import BFGS

from mlpot.geometry.torsion import fold_angles, nearest_basin, rotating_group


def set_torsion(atoms: Atoms, quadruple: Sequence[int], angle: float) -> None:
    """Turn the ``c`` side of the dihedral a-b-c-d rigidly to ``angle``, in place.

    Parameters
    ----------
    atoms : ase.Atoms
        Changed in place; constraints are ignored.
    quadruple : (int, int, int, int)
        The dihedral a-b-c-d; the atoms of `rotating_group` for (b, c) move.
    angle : float
        Degrees.
    """
    a, b, c, d = (int(k) for k in quadruple)
    atoms.set_dihedral(a, b, c, d, angle, indices=rotating_group(atoms, (b, c)))


@dataclass
class TorsionScan:
    """Energies along a torsion scan.

    Attributes
    ----------
    angles : ndarray, shape (K,)
        Requested dihedral angles in degrees.
    energies : ndarray, shape (K,)
        Potential energies in eV.
    images : list of ase.Atoms
        The structures, each with its energy and (unconstrained) forces in a
        ``SinglePointCalculator``.
    converged : ndarray of bool, shape (K,)
        Whether each relaxation reached ``fmax`` (all True for rigid scans).
    """

    angles: np.ndarray
    energies: np.ndarray
    images: List[Atoms]
    converged: np.ndarray


def rigid_scan(
    atoms: Atoms, calculator, quadruple: Sequence[int], angles
) -> TorsionScan:
    """Energies with the ``c`` side of a-b-c-d turned rigidly to each angle.

    Parameters
    ----------
    atoms : ase.Atoms
        Starting structure; not modified.
    calculator : ase.calculators.calculator.Calculator
        Any ASE calculator.
    quadruple : (int, int, int, int)
        The dihedral a-b-c-d that is set.
    angles : array_like, shape (K,)
        Degrees.

    Returns
    -------
    TorsionScan
    """
    angles = np.asarray(angles, dtype=np.float64).reshape(-1)
    images = []
    for angle in angles:
        image = atoms.copy()
        image.set_constraint()
        set_torsion(image, quadruple, angle)
        images.append(_labelled(image, calculator))
    energies = np.array([image.get_potential_energy() for image in images])
    return TorsionScan(angles, energies, images, np.ones(len(angles), dtype=bool))


def relaxed_scan(
    atoms: Atoms,
    calculator,
    quadruple: Sequence[int],
    angles,
    fmax: float = 0.01,
    optimizer=BFGS,
    max_steps: int = 500,
) -> TorsionScan:
    """Energies with the dihedral a-b-c-d held at each angle and the rest relaxed.

    Each point starts from the relaxed structure of the previous one, turned
    rigidly to the new angle; ``ase.constraints.FixInternals`` holds the
    dihedral while ``optimizer`` relaxes all other coordinates.

    Parameters
    ----------
    atoms : ase.Atoms
        Starting structure; not modified.
    calculator : ase.calculators.calculator.Calculator
        Any ASE calculator.
    quadruple : (int, int, int, int)
        The dihedral a-b-c-d that is held.
    angles : array_like, shape (K,)
        Degrees, in scan order.
    fmax : float
        Convergence threshold on the constrained forces in eV/Å.
    optimizer : ase.optimize.Optimizer subclass
        E.g. ``ase.optimize.BFGS`` (default) or ``ase.optimize.FIRE``.
    max_steps : int
        Optimiser steps allowed per point.

    Returns
    -------
    TorsionScan
    """
    angles = np.asarray(angles, dtype=np.float64).reshape(-1)
    quadruple = [int(k) for k in quadruple]
    structure = atoms.copy()
    images, converged = [], []
    for angle in fold_angles(angles, 360.0):
        structure.set_constraint()
        set_torsion(structure, quadruple, angle)
        structure.set_constraint(FixInternals(dihedrals_deg=[[angle, quadruple]]))
        structure.calc = calculator
        converged.append(
            optimizer(structure, logfile=None).run(fmax=fmax, steps=max_steps)
        )
        image = structure.copy()
        image.set_constraint()
        images.append(_labelled(image, calculator))
    energies = np.array([image.get_potential_energy() for image in images])
    return TorsionScan(angles, energies, images, np.array(converged, dtype=bool))


def _labelled(image: Atoms, calculator) -> Atoms:
    """``image`` with its energy and forces from ``calculator`` frozen in."""
    image.calc = calculator
    results = {"energy": image.get_potential_energy(), "forces": image.get_forces()}
    image.calc = SinglePointCalculator(image, **results)
    return image


@dataclass
class ProfileSummary:
    """Barrier and symmetry error of an n-fold torsion profile (energies in eV).

    Attributes
    ----------
    barrier : float
        Highest minus lowest energy of the profile.
    minima, maxima : ndarray, shape (n,)
        Lowest (highest) energy in each of the n basins (barrier regions),
        relative to the lowest point of the profile.
    minima_angles, maxima_angles : ndarray, shape (n,)
        Where they are, in degrees.
    minima_spread, maxima_spread : float
        Largest minus smallest of ``minima`` (``maxima``): the n-fold
        symmetry error.
    rmse : float or None
        Root-mean-square deviation from the reference profile after removing
        the mean offset of the two; None without a reference.
    """

    barrier: float
    minima: np.ndarray
    maxima: np.ndarray
    minima_angles: np.ndarray
    maxima_angles: np.ndarray
    minima_spread: float
    maxima_spread: float
    rmse: Optional[float] = None


def profile_summary(
    angles, energies, reference_energies=None, fold: int = 3
) -> ProfileSummary:
    """Barrier, n-fold symmetry error and error against a reference of a profile.

    Where the n minima and maxima lie is read from the phase of the n-fold
    Fourier component of the profile, so no angle convention is assumed;
    each minimum (maximum) is then the lowest (highest) point nearer to its
    expected position than to the other n - 1.

    Parameters
    ----------
    angles : array_like, shape (K,)
        Degrees, covering the whole circle (e.g. 0, 15, ..., 345).
    energies : array_like, shape (K,)
        eV.
    reference_energies : array_like, shape (K,), optional
        eV, at the same angles, e.g. the reference method's scan.
    fold : int
        Symmetry number n of the rotor; 3 for ethane.

    Returns
    -------
    ProfileSummary
    """
    angles = np.asarray(angles, dtype=np.float64).reshape(-1)
    energies = np.asarray(energies, dtype=np.float64).reshape(-1)
    if len(angles) != len(energies):
        raise ValueError(f"{len(angles)} angles but {len(energies)} energies")
    relative = energies - energies.min()
    period = 360.0 / fold
    component = np.sum(relative * np.exp(-1j * fold * np.radians(angles)))
    first_maximum = np.degrees(-np.angle(component)) / fold
    maxima_at = (first_maximum + period * np.arange(fold)) % 360.0
    extremes = {}
    for kind, centres, pick in (
        ("maximum", maxima_at, np.argmax),
        ("minimum", (maxima_at + period / 2) % 360.0, np.argmin),
    ):
        nearest = nearest_basin(angles, centres, 360.0)
        points = []
        for basin in range(fold):
            members = np.flatnonzero(nearest == basin)
            if not len(members):
                raise ValueError(
                    f"no scan point near the expected {kind} at "
                    f"{centres[basin]:.0f}°; scan the whole circle in steps "
                    f"of at most {period / 2:g}°"
                )
            points.append(members[pick(relative[members])])
        extremes[kind] = np.array(points)
    rmse = None
    if reference_energies is not None:
        reference = np.asarray(reference_energies, dtype=np.float64).reshape(-1)
        if len(reference) != len(energies):
            raise ValueError(
                f"the reference profile has {len(reference)} points and this one "
                f"{len(energies)}; evaluate both at the same angles"
            )
        difference = energies - reference
        rmse = float(np.sqrt(np.mean((difference - difference.mean()) ** 2)))
    minima, maxima = relative[extremes["minimum"]], relative[extremes["maximum"]]
    return ProfileSummary(
        barrier=float(relative.max()),
        minima=minima,
        maxima=maxima,
        minima_angles=angles[extremes["minimum"]],
        maxima_angles=angles[extremes["maximum"]],
        minima_spread=float(np.ptp(minima)),
        maxima_spread=float(np.ptp(maxima)),
        rmse=rmse,
    )
