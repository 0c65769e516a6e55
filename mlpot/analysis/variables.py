"""Geometric variables of the MD17 molecules, with atoms found by connectivity.

`geometry_variables(frames, "ethanol")` gives, per frame, bond lengths (Å),
bond angles and torsions (degrees) that describe the molecule's motion. The
atoms are found from the bonds of the first frame (covalent radii), not from
a fixed atom order, so any atom order of the same molecule works.

Torsions are reported folded by the symmetry every invariant model has:
an inversion turns a dihedral φ into −φ, and swapping equivalent atoms (the
hydrogens of a methyl group, the two ortho carbons of toluene's ring) shifts
φ by a multiple of 360°/n. A torsion of order n is therefore the circular
mean of n·φ over the equivalent dihedrals, divided by n and folded to
[0, 180/n] degrees; 0 means eclipsed with the reference atom.
"""

from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
from ase import Atoms

from mlpot.data import Frames
from mlpot.geometry.internal import (
    bond_angles,
    bond_lengths,
    bonded_pairs,
    dihedral_angles,
)

# (kind, index tuples, order): kind "bond", "angle" or "torsion". Bonds and
# angles of several tuples are their mean (equivalent bonds of a symmetric
# molecule); the order matters for torsions only.
Variable = Tuple[str, List[Sequence[int]], int]


def geometry_variables(frames: Frames, molecule: str) -> Dict[str, np.ndarray]:
    """Molecule-specific geometric variables of every frame.

    Parameters
    ----------
    frames : Frames
        Frames of one molecule; positions in Å.
    molecule : str
        ``"ethanol"``, ``"toluene"`` or ``"aspirin"`` (see :data:`MOLECULES`).

    Returns
    -------
    dict of str to ndarray, shape (n_frames,)
        Name (with its unit) → values: bonds in Å, angles in degrees in
        [0, 180] (the mean where a variable names several equivalent ones),
        torsions in degrees in [0, 180/n] (see the module notes).
    """
    definitions = variable_atoms(frames.to_atoms(0), molecule)
    positions = frames.positions.reshape(len(frames), -1, 3)
    if not (frames.n_atoms == frames.n_atoms[0]).all():
        raise ValueError(
            "frames of different sizes; geometry_variables needs frames of one molecule"
        )
    values = {}
    for name, (kind, tuples, order) in definitions.items():
        if kind == "bond":
            values[name] = bond_lengths(positions, tuples).mean(axis=1)
        elif kind == "angle":
            values[name] = bond_angles(positions, tuples).mean(axis=1)
        else:
            values[name] = folded_torsion(dihedral_angles(positions, tuples), order)
    return values


def folded_torsion(dihedrals, order: int = 1) -> np.ndarray:
    """One torsion from equivalent dihedrals, folded by inversion and symmetry.

    Parameters
    ----------
    dihedrals : array_like, shape (n_frames, Q)
        Degrees; Q equivalent dihedrals about one bond, each 360°/order
        apart up to noise.
    order : int
        Symmetry order n of the rotor (3 for a methyl group).

    Returns
    -------
    ndarray, shape (n_frames,)
        Degrees in [0, 180 / order].
    """
    radians = np.radians(np.atleast_2d(dihedrals)) * order
    mean = np.angle(np.exp(1j * radians).mean(axis=1))
    return np.abs(np.degrees(mean)) / order


def variable_atoms(atoms: Atoms, molecule: str) -> Dict[str, Variable]:
    """The atoms of each variable of ``molecule``, found by connectivity.

    Parameters
    ----------
    atoms : ase.Atoms
        One structure of the molecule.
    molecule : str
        A key of :data:`MOLECULES`.

    Returns
    -------
    dict
        Name → (kind, index tuples, order), as used by `geometry_variables`.
    """
    if molecule not in MOLECULES:
        raise ValueError(
            f"no geometric variables defined for '{molecule}'; choose one of "
            f"{sorted(MOLECULES)}"
        )
    formula, finder = MOLECULES[molecule]
    if atoms.get_chemical_formula() != formula:
        raise ValueError(
            f"the frames hold {atoms.get_chemical_formula()}, but {molecule} is "
            f"{formula}; name the molecule the data file holds"
        )
    return finder(_Bonds(atoms))


class _Bonds:
    """Neighbours of each atom by covalent radii, with lookups by element."""

    def __init__(self, atoms: Atoms):
        self.symbols = atoms.get_chemical_symbols()
        self.partners: Dict[int, List[int]] = {k: [] for k in range(len(atoms))}
        for i, j in bonded_pairs(atoms):
            self.partners[int(i)].append(int(j))
            self.partners[int(j)].append(int(i))

    def of(self, atom: int, element: str) -> List[int]:
        return sorted(k for k in self.partners[atom] if self.symbols[k] == element)

    def atoms(self, element: str, **counts: int) -> List[int]:
        """Atoms of ``element`` with the given number of neighbours per element."""
        return [
            k
            for k, symbol in enumerate(self.symbols)
            if symbol == element
            and all(len(self.of(k, e)) == n for e, n in counts.items())
        ]

    def one(self, element: str, **counts: int) -> int:
        found = self.atoms(element, **counts)
        if len(found) != 1:
            raise ValueError(
                f"expected one {element} atom with neighbours {counts}, found "
                f"{len(found)}; the first frame's bonds do not match the molecule"
            )
        return found[0]


def _ethanol(bonds: _Bonds) -> Dict[str, Variable]:
    oxygen = bonds.one("O")
    (c_alpha,) = bonds.of(oxygen, "C")
    (c_methyl,) = bonds.of(c_alpha, "C")
    (h_hydroxyl,) = bonds.of(oxygen, "H")
    methyl_torsions = [(h, c_methyl, c_alpha, oxygen) for h in bonds.of(c_methyl, "H")]
    return {
        "C-C bond (Å)": ("bond", [(c_methyl, c_alpha)], 1),
        "C-O bond (Å)": ("bond", [(c_alpha, oxygen)], 1),
        "C-C-O angle (°)": ("angle", [(c_methyl, c_alpha, oxygen)], 1),
        "H-O-C-C torsion (°)": (
            "torsion",
            [(h_hydroxyl, oxygen, c_alpha, c_methyl)],
            1,
        ),
        "H-C-C-O methyl torsion (°)": ("torsion", methyl_torsions, 3),
    }


def _toluene(bonds: _Bonds) -> Dict[str, Variable]:
    c_methyl = bonds.one("C", H=3)
    (c_ipso,) = bonds.of(c_methyl, "C")
    ortho = [k for k in bonds.of(c_ipso, "C") if k != c_methyl]
    torsions = [
        (h, c_methyl, c_ipso, c) for h in bonds.of(c_methyl, "H") for c in ortho
    ]
    ring = [k for k in bonds.atoms("C") if k != c_methyl]
    ring_bonds = [(i, j) for i in ring for j in bonds.of(i, "C") if i < j]
    if len(ring_bonds) != 6:
        raise ValueError(
            f"found {len(ring_bonds)} C-C bonds between the ring carbons instead "
            "of 6; the first frame's bonds do not match toluene"
        )
    return {
        "C-CH3 bond (Å)": ("bond", [(c_ipso, c_methyl)], 1),
        # The two ipso-ortho bonds are equivalent; all six, the ring's breathing.
        "ring C-C bond at CH3 (Å)": ("bond", [(c_ipso, c) for c in ortho], 1),
        "ring C-C bonds, mean of six (Å)": ("bond", ring_bonds, 1),
        "ring C-C-C angle at CH3 (°)": ("angle", [(ortho[0], c_ipso, ortho[1])], 1),
        # Three hydrogens and two ortho carbons: a six-fold rotor.
        "methyl torsion H-C-C-C (°)": ("torsion", torsions, 6),
    }


def _aspirin(bonds: _Bonds) -> Dict[str, Variable]:
    o_hydroxyl = bonds.one("O", H=1)
    (c_carboxyl,) = bonds.of(o_hydroxyl, "C")
    (o_acid,) = [k for k in bonds.of(c_carboxyl, "O") if k != o_hydroxyl]
    (c_ring_acid,) = bonds.of(c_carboxyl, "C")
    c_methyl = bonds.one("C", H=3)
    (c_acetyl,) = bonds.of(c_methyl, "C")
    o_ester = bonds.one("O", C=2)
    (c_ring_ester,) = [k for k in bonds.of(o_ester, "C") if k != c_acetyl]
    if c_ring_acid not in bonds.of(c_ring_ester, "C"):
        raise ValueError(
            "the carboxyl and acetyloxy groups are not on neighbouring ring "
            "carbons; this is not aspirin (2-acetoxybenzoic acid)"
        )
    methyl_torsions = [
        (h, c_methyl, c_acetyl, o_ester) for h in bonds.of(c_methyl, "H")
    ]
    return {
        "ring C-O ester bond (Å)": ("bond", [(c_ring_ester, o_ester)], 1),
        "C-O-C ester angle (°)": ("angle", [(c_ring_ester, o_ester, c_acetyl)], 1),
        "acetyl torsion C-C-O-C (°)": (
            "torsion",
            [(c_ring_acid, c_ring_ester, o_ester, c_acetyl)],
            1,
        ),
        "carboxyl torsion C-C-C=O (°)": (
            "torsion",
            [(c_ring_ester, c_ring_acid, c_carboxyl, o_acid)],
            1,
        ),
        "acetyl methyl torsion H-C-C-O (°)": ("torsion", methyl_torsions, 3),
    }


MOLECULES: Dict[str, Tuple[str, Callable[[_Bonds], Dict[str, Variable]]]] = {
    "ethanol": ("C2H6O", _ethanol),
    "toluene": ("C7H8", _toluene),
    "aspirin": ("C9H8O4", _aspirin),
}
"""Molecule name → (chemical formula as ASE writes it, variable finder)."""
