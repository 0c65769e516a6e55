"""Periodic boxes of molecules, for engines and benchmarks."""

from pathlib import Path
from typing import Optional

import numpy as np
from ase import Atoms
from ase.data import atomic_masses
from ase.units import _amu
from scipy.spatial.transform import Rotation

CM3_PER_A3 = 1e-24
# ase.build.molecule names of the molecules of shipped models, by name prefix.
MOLECULE_OF_MODEL = {"ethanol": "CH3CH2OH", "ethane": "C2H6"}


def molecule_for(model: str, molecule: Optional[str] = None) -> Atoms:
    """``molecule`` (an ase.build.molecule name or a structure file), or by default
    the molecule of a shipped model named like ``ethanol-equivariant``.

    Raises
    ------
    ValueError
        No molecule given and none known for the model's name.
    """
    import ase.io
    from ase.build import molecule as build_molecule

    if molecule is None:
        stem = Path(model).name.split("-")[0]
        if stem not in MOLECULE_OF_MODEL:
            raise ValueError(
                f"no default molecule for the model {model}; give --molecule NAME "
                "(ase.build.molecule) or --molecule FILE"
            )
        molecule = MOLECULE_OF_MODEL[stem]
    if Path(molecule).is_file():
        return ase.io.read(molecule)
    return build_molecule(molecule)


def molecular_box(
    molecule: Atoms, copies: int, density: float, seed: int = 0, tries: int = 32
) -> Atoms:
    """``copies`` rotated copies of a molecule on a cubic lattice, periodic.

    Each copy takes, of ``tries`` random orientations, the one whose closest
    contact with the copies placed before it (across the periodic boundaries)
    is longest, so that a dense box starts without overlapping molecules.

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
    tries : int
        Orientations tried per copy.

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
    sites = (
        np.array(np.meshgrid(*[np.arange(side)] * 3, indexing="ij")).reshape(3, -1).T
    )
    template = molecule.copy()
    template.cell, template.pbc = None, False
    template.translate(-template.get_center_of_mass())
    spacing = length / side
    placed = {}  # lattice site -> positions (n, 3) of the copy there
    for site in map(tuple, sites[:copies]):
        centre = (np.asarray(site) + 0.5) * spacing
        rotations = Rotation.random(tries, random_state=rng)
        candidates = np.stack([r.apply(template.positions) for r in rotations])
        candidates += centre
        nearby = [
            placed[near] for near in _neighbour_sites(site, side) if near in placed
        ]
        if nearby:
            others = np.concatenate(nearby)
            delta = candidates[:, :, None, :] - others[None, None, :, :]
            delta -= length * np.round(delta / length)
            contact = np.linalg.norm(delta, axis=-1).reshape(tries, -1).min(axis=1)
            best = int(np.argmax(contact))
        else:
            best = 0
        placed[site] = candidates[best]
        box += Atoms(template.numbers, positions=candidates[best])
    return box


def _neighbour_sites(site, side: int):
    """The lattice sites next to ``site`` (including diagonals), periodic."""
    steps = range(-1, 2)
    return {
        tuple((np.asarray(site) + (a, b, c)) % side)
        for a in steps
        for b in steps
        for c in steps
        if (a, b, c) != (0, 0, 0)
    }
