"""Periodic boxes of molecules, for engines and benchmarks."""

import numpy as np
from ase import Atoms
from ase.data import atomic_masses
from ase.units import _amu

CM3_PER_A3 = 1e-24


def molecular_box(molecule: Atoms, copies: int, density: float, seed: int = 0) -> Atoms:
    """``copies`` randomly rotated copies of a molecule on a cubic lattice, periodic.

    Parameters
    ----------
    molecule : ase.Atoms
        One molecule (its cell and pbc are ignored).
    copies : int
        Number of molecules; the lattice has ``ceil(copies ** (1/3))`` sites a side.
    density : float
        Mass density of the box in g/cm³, which sets the cubic cell.
    seed : int
        Seed of the rotations.

    Returns
    -------
    ase.Atoms
        Fully periodic, cubic cell, in Å.
    """
    if copies < 1:
        raise ValueError(f"copies must be at least 1, got {copies}")
    if not density > 0:
        raise ValueError(f"density must be positive (g/cm³), got {density}")
    grams = copies * atomic_masses[molecule.numbers].sum() * _amu * 1e3
    length = (grams / density / CM3_PER_A3) ** (1.0 / 3.0)
    side = int(np.ceil(copies ** (1.0 / 3.0) - 1e-9))
    rng = np.random.default_rng(seed)
    box = Atoms(cell=[length] * 3, pbc=True)
    sites = np.array(np.meshgrid(*[np.arange(side)] * 3, indexing="ij")).reshape(3, -1).T
    for site in sites[:copies]:
        copy = molecule.copy()
        copy.cell, copy.pbc = None, False
        copy.translate(-copy.get_center_of_mass())
        copy.rotate(rng.uniform(0, 360), rng.normal(size=3), center=(0, 0, 0))
        copy.translate((site + 0.5) * length / side)
        box += copy
    return box
