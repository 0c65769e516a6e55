"""Torsions: ethane's torsion coordinate, basin populations, free energy.

A torsion about a bond b-c is followed through a dihedral a-b-c-d (degrees,
[0, 360), ASE's convention). For a three-fold rotor like ethane, the three
H-C-C-H dihedrals that share the first hydrogen differ by about 120°, and
`torsion_coordinate` averages them (on the circle) into one coordinate.

Scans over a torsion are in `mlpot.geometry.scan`. Energies are in eV; divide
by `KCAL_PER_MOL` for kcal/mol.
"""

from typing import Sequence

import numpy as np
from ase import Atoms, units
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from mlpot.geometry.internal import bonded_pairs, dihedral_angles

KCAL_PER_MOL = units.kcal / units.mol
"""One kcal/mol in eV."""


def rotating_group(atoms: Atoms, bond: Sequence[int]) -> np.ndarray:
    """Atoms on the ``c`` side of the bond ``(b, c)``: those a torsion moves.

    Parameters
    ----------
    atoms : ase.Atoms
        The structure; bonds from `mlpot.geometry.internal.bonded_pairs`.
    bond : (int, int)
        The rotatable bond ``(b, c)``.

    Returns
    -------
    ndarray of int
        Sorted indices, ``c`` included and ``b`` not.

    Raises
    ------
    ValueError
        If b and c are not bonded, or the bond is in a ring (it cannot be
        turned without breaking the ring).
    """
    b, c = (int(k) for k in bond)
    pairs = bonded_pairs(atoms)
    is_bond = ((pairs[:, 0] == min(b, c)) & (pairs[:, 1] == max(b, c))).any()
    if not is_bond:
        raise ValueError(
            f"atoms {b} and {c} are not bonded (by covalent radii); name a bond "
            "of the molecule, e.g. the C-C bond of ethane"
        )
    kept = pairs[~((pairs[:, 0] == min(b, c)) & (pairs[:, 1] == max(b, c)))]
    graph = coo_matrix(
        (np.ones(len(kept)), (kept[:, 0], kept[:, 1])), shape=(len(atoms),) * 2
    )
    _, component = connected_components(graph, directed=False)
    if component[b] == component[c]:
        raise ValueError(
            f"the bond {b}-{c} is in a ring, so no torsion turns about it alone; "
            "choose a bond outside rings"
        )
    return np.flatnonzero(component == component[c])


def torsion_quadruple(atoms: Atoms, bond: Sequence[int]) -> np.ndarray:
    """A dihedral a-b-c-d for the bond ``(b, c)``: the lowest-index neighbours.

    Parameters
    ----------
    atoms : ase.Atoms
        The structure; bonds from `mlpot.geometry.internal.bonded_pairs`.
    bond : (int, int)
        The bond ``(b, c)``.

    Returns
    -------
    ndarray of int, shape (4,)
    """
    b, c = (int(k) for k in bond)
    pairs = bonded_pairs(atoms)
    ends = []
    for centre, other in ((b, c), (c, b)):
        partners = np.concatenate(
            [pairs[pairs[:, 0] == centre, 1], pairs[pairs[:, 1] == centre, 0]]
        )
        neighbours = sorted(set(partners.tolist()) - {other})
        if not neighbours:
            raise ValueError(
                f"atom {centre} has no bonded neighbour besides {other}, so no "
                f"dihedral about the bond {b}-{c} exists"
            )
        ends.append(neighbours[0])
    return np.array([ends[0], b, c, ends[1]])


def ethane_torsion_quadruples(atoms: Atoms) -> np.ndarray:
    """The three H-C-C-H dihedrals of ethane that share one hydrogen.

    The first carbon is the lower-index one and the shared hydrogen its
    lowest-index hydrogen; the hydrogens of the second carbon are ordered
    so that the dihedrals increase by about 120° from row to row.

    Parameters
    ----------
    atoms : ase.Atoms
        Ethane (atoms in any order), e.g. ``ase.build.molecule("C2H6")``.

    Returns
    -------
    ndarray of int, shape (3, 4)

    Raises
    ------
    ValueError
        If there is not exactly one C-C bond between two methyl groups.
    """
    pairs = bonded_pairs(atoms)
    numbers = atoms.numbers

    def hydrogens(carbon):
        partners = np.concatenate(
            [pairs[pairs[:, 0] == carbon, 1], pairs[pairs[:, 1] == carbon, 0]]
        )
        return np.sort(partners[numbers[partners] == 1])

    methyl_bonds = [
        (b, c)
        for b, c in pairs
        if numbers[b] == numbers[c] == 6 and len(hydrogens(b)) == len(hydrogens(c)) == 3
    ]
    if len(methyl_bonds) != 1:
        raise ValueError(
            f"found {len(methyl_bonds)} C-C bonds between two CH3 groups in "
            f"{atoms.get_chemical_formula()}; ethane has one. For other "
            "molecules choose the quadruples yourself (torsion_quadruple)"
        )
    b, c = methyl_bonds[0]
    first = hydrogens(b)[0]
    quadruples = np.array([[first, b, c, d] for d in hydrogens(c)])
    dihedrals = dihedral_angles(atoms, quadruples)
    order = np.argsort((dihedrals - dihedrals[0]) % 360.0)
    return quadruples[order]


def torsion_coordinate(dihedrals) -> np.ndarray:
    """One torsion angle from the n dihedrals about a bond that are 360°/n apart.

    Row by row, the circular mean of ``dihedrals[:, k] - k * 360 / n``: it
    follows the first dihedral, with the noise of single hydrogens averaged
    out, and wraps correctly across 0°/360°.

    Parameters
    ----------
    dihedrals : array_like, shape (F, n)
        Degrees, columns ordered as in `ethane_torsion_quadruples`.

    Returns
    -------
    ndarray, shape (F,)
        Degrees, in [0, 360).
    """
    dihedrals = np.atleast_2d(np.asarray(dihedrals, dtype=np.float64))
    n = dihedrals.shape[1]
    shifted = np.radians(dihedrals - np.arange(n) * 360.0 / n)
    mean = np.degrees(np.angle(np.exp(1j * shifted).sum(axis=1)))
    return fold_angles(mean, 360.0)


def ethane_torsion(images, quadruples=None) -> np.ndarray:
    """The ethane torsion coordinate of every frame.

    Parameters
    ----------
    images : ase.Atoms or sequence of ase.Atoms
        Ethane frames, e.g. a trajectory.
    quadruples : array_like of int, shape (3, 4), optional
        The three H-C-C-H dihedrals; by default `ethane_torsion_quadruples`
        of the first frame.

    Returns
    -------
    ndarray, shape (F,)
        Degrees in [0, 360); staggered near 60, 180, 300 and eclipsed near 0,
        120, 240.
    """
    frames = [images] if isinstance(images, Atoms) else list(images)
    if quadruples is None:
        quadruples = ethane_torsion_quadruples(frames[0])
    return torsion_coordinate(dihedral_angles(frames, quadruples))


def fold_angles(angles, period: float = 120.0) -> np.ndarray:
    """Angles onto one period of an n-fold rotor, e.g. [0, 120) for ethane.

    Parameters
    ----------
    angles : array_like
        Degrees.
    period : float
        Degrees; 360 / n for an n-fold rotor.

    Returns
    -------
    ndarray
        Degrees in [0, ``period``), same shape as ``angles``.
    """
    folded = np.mod(np.asarray(angles, dtype=np.float64), period)
    # np.mod(-1e-15, 120.0) is 120.0 in floating point; keep [0, period).
    return np.where(folded >= period, 0.0, folded)


def basin_populations(angles, centres, period: float = 360.0) -> np.ndarray:
    """Fraction of angles closest (on the circle) to each basin centre.

    Examples: the three staggered basins of ethane are
    ``basin_populations(torsion, [60, 180, 300])``; staggered against
    eclipsed is ``basin_populations(fold_angles(torsion), [60, 0], period=120)``.

    Parameters
    ----------
    angles : array_like, shape (F,)
        Degrees.
    centres : array_like, shape (B,)
        Basin centres in degrees; each angle goes to its nearest centre.
    period : float
        Degrees after which angles repeat.

    Returns
    -------
    ndarray, shape (B,)
        Fractions, summing to 1.
    """
    angles = np.asarray(angles, dtype=np.float64).reshape(-1)
    if not len(angles):
        raise ValueError("no angles given: populations need at least one frame")
    return np.bincount(
        nearest_basin(angles, centres, period), minlength=len(centres)
    ) / len(angles)


def nearest_basin(angles, centres, period: float = 360.0) -> np.ndarray:
    """Index of the basin centre nearest (on the circle) to each angle.

    Parameters
    ----------
    angles : array_like, shape (F,)
        Degrees.
    centres : array_like, shape (B,)
        Basin centres in degrees.
    period : float
        Degrees after which angles repeat.

    Returns
    -------
    ndarray of int, shape (F,)
        E.g. ``np.count_nonzero(np.diff(nearest_basin(torsion, [60, 180, 300])))``
        counts the jumps between staggered basins of ethane.
    """
    angles = np.asarray(angles, dtype=np.float64).reshape(-1)
    centres = np.asarray(centres, dtype=np.float64).reshape(-1)
    distance = np.abs(
        (angles[:, None] - centres[None, :] + period / 2) % period - period / 2
    )
    return np.argmin(distance, axis=1)


def free_energy_profile(
    angles, temperature_K: float, bins: int = 72, period: float = 360.0
):
    """Free energy ``-kT ln p(φ)`` of an angle sampled at a temperature.

    Parameters
    ----------
    angles : array_like, shape (F,)
        Degrees, e.g. the ethane torsion along an NVT trajectory.
    temperature_K : float
        Temperature of the sampling in K.
    bins : int
        Histogram bins over one period.
    period : float
        Degrees; 360, or 120 for folded ethane torsions.

    Returns
    -------
    centres : ndarray, shape (bins,)
        Bin centres in degrees.
    free_energy : ndarray, shape (bins,)
        eV, zero at the most populated bin; ``inf`` where no frame fell.
    """
    angles = fold_angles(np.reshape(angles, -1), period)
    counts, edges = np.histogram(angles, bins=bins, range=(0.0, period))
    with np.errstate(divide="ignore"):
        free_energy = -units.kB * temperature_K * np.log(counts / counts.max())
    return 0.5 * (edges[:-1] + edges[1:]), free_energy
