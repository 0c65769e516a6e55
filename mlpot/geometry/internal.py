"""Bond lengths, bond angles and dihedral angles over the frames of a trajectory.

Every function takes ``images``: one ``ase.Atoms``, a sequence of them (a list
from ``ase.io.read(path, ":")`` or an open ``ase.io.Trajectory``), or a
positions array of shape (N, 3) or (F, N, 3) in Å. Bond vectors follow the
minimum-image convention (``ase.geometry.find_mic``) when the atoms carry a
periodic cell, so a bond across the cell boundary has its true length. A single
structure gives one row of results without the frame axis; F frames give F rows.

Angles are in degrees: bond angles in [0, 180], dihedrals in [0, 360) as in
``ase.Atoms.get_dihedral``.
"""

from typing import Dict, Tuple

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols
from ase.geometry import find_mic, get_angles, get_dihedrals
from ase.neighborlist import natural_cutoffs, neighbor_list


def bond_lengths(images, pairs) -> np.ndarray:
    """Distances between atom pairs in every frame.

    Parameters
    ----------
    images : ase.Atoms, sequence of ase.Atoms, or ndarray of shape (N, 3) or (F, N, 3)
        Structures; positions in Å.
    pairs : array_like of int, shape (P, 2)
        Atom indices ``(i, j)``.

    Returns
    -------
    ndarray, shape (F, P), or (P,) for a single structure
        Lengths in Å.
    """
    (ij,), single = _bond_vectors(images, pairs, 2)
    lengths = np.linalg.norm(ij, axis=-1)
    return lengths[0] if single else lengths


def bond_angles(images, triples) -> np.ndarray:
    """Angles i-j-k (at the middle atom j) in every frame.

    Parameters
    ----------
    images : ase.Atoms, sequence of ase.Atoms, or ndarray of shape (N, 3) or (F, N, 3)
        Structures; positions in Å.
    triples : array_like of int, shape (T, 3)
        Atom indices ``(i, j, k)``.

    Returns
    -------
    ndarray, shape (F, T), or (T,) for a single structure
        Angles in degrees, in [0, 180].
    """
    (ij, jk), single = _bond_vectors(images, triples, 3)
    angles = get_angles(-ij.reshape(-1, 3), jk.reshape(-1, 3)).reshape(ij.shape[:2])
    return angles[0] if single else angles


def dihedral_angles(images, quadruples) -> np.ndarray:
    """Dihedral angles a-b-c-d (rotation about the b-c bond) in every frame.

    The sign convention is ASE's (``ase.Atoms.get_dihedral``): looking along
    b → c, the angle from the a-b bond to the c-d bond, clockwise.

    Parameters
    ----------
    images : ase.Atoms, sequence of ase.Atoms, or ndarray of shape (N, 3) or (F, N, 3)
        Structures; positions in Å.
    quadruples : array_like of int, shape (Q, 4)
        Atom indices ``(a, b, c, d)``.

    Returns
    -------
    ndarray, shape (F, Q), or (Q,) for a single structure
        Angles in degrees, in [0, 360).

    Raises
    ------
    ZeroDivisionError
        If a-b-c or b-c-d is collinear in some frame (the dihedral is undefined).
    """
    (ab, bc, cd), single = _bond_vectors(images, quadruples, 4)
    dihedrals = get_dihedrals(
        ab.reshape(-1, 3), bc.reshape(-1, 3), cd.reshape(-1, 3)
    ).reshape(ab.shape[:2])
    dihedrals = np.where(dihedrals >= 360.0, dihedrals - 360.0, dihedrals)
    return dihedrals[0] if single else dihedrals


def bonded_pairs(atoms: Atoms, scale: float = 1.2) -> np.ndarray:
    """Bonds from covalent radii: pairs closer than ``scale`` times the radii sum.

    Parameters
    ----------
    atoms : ase.Atoms
        The structure (periodic boundaries are respected).
    scale : float
        Multiplier of ASE's covalent radii (``ase.neighborlist.natural_cutoffs``);
        1.2 finds the bonds of organic molecules also when stretched by
        thermal motion.

    Returns
    -------
    ndarray of int, shape (P, 2)
        Unique pairs with ``i < j``, sorted.
    """
    i, j = neighbor_list("ij", atoms, natural_cutoffs(atoms, mult=scale))
    pairs = np.stack([i, j], axis=1)
    return np.unique(pairs[i < j], axis=0).reshape(-1, 2)


def angle_triples(pairs) -> np.ndarray:
    """All bond angles i-j-k formed by two bonds that share atom j.

    Parameters
    ----------
    pairs : array_like of int, shape (P, 2)
        Bonds, e.g. from `bonded_pairs`.

    Returns
    -------
    ndarray of int, shape (T, 3)
        Triples ``(i, j, k)`` with ``i < k``, sorted by ``j``.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    triples = []
    for centre in np.unique(pairs):
        partners = np.sort(
            np.concatenate(
                [pairs[pairs[:, 0] == centre, 1], pairs[pairs[:, 1] == centre, 0]]
            )
        )
        for n, first in enumerate(partners):
            triples.extend((first, centre, last) for last in partners[n + 1 :])
    return np.array(triples, dtype=np.int64).reshape(-1, 3)


def group_by_elements(values, index_tuples, numbers) -> Dict[str, np.ndarray]:
    """Pool per-frame values of bonds, angles or dihedrals by their element labels.

    Bonds i-j are labelled like ``"C-H"``, angles like ``"H-C-H"``; a label
    and its reverse are the same group, written the way that comes first
    alphabetically (``"C-H"``, ``"C-C-H"``).

    Parameters
    ----------
    values : array_like, shape (F, K) or (K,)
        E.g. the output of `bond_lengths` or `bond_angles`.
    index_tuples : array_like of int, shape (K, m)
        The pairs, triples or quadruples the values belong to.
    numbers : array_like of int, shape (N,)
        Atomic numbers of the structure.

    Returns
    -------
    dict of str to ndarray
        Label → all values of that kind, flattened over frames.
    """
    values = np.asarray(values).reshape(-1, len(index_tuples))
    index_tuples = np.asarray(index_tuples, dtype=np.int64)
    numbers = np.asarray(numbers)
    groups: Dict[str, list] = {}
    for column, indices in enumerate(index_tuples):
        symbols = [chemical_symbols[z] for z in numbers[indices]]
        label = min("-".join(symbols), "-".join(symbols[::-1]))
        groups.setdefault(label, []).append(values[:, column])
    return {label: np.concatenate(parts) for label, parts in sorted(groups.items())}


def _bond_vectors(images, index_tuples, width: int) -> Tuple[list, bool]:
    """Vectors from each atom of the tuples to the next (minimum image), (F, K, 3)."""
    positions, cells, pbc, single = _as_frames(images)
    index_tuples = np.asarray(index_tuples, dtype=np.int64).reshape(-1, width)
    if len(index_tuples) and (
        index_tuples.min() < 0 or index_tuples.max() >= positions.shape[1]
    ):
        raise IndexError(
            f"atom indices must be between 0 and {positions.shape[1] - 1} for "
            f"structures of {positions.shape[1]} atoms; got {index_tuples.tolist()}"
        )
    vectors = []
    for start, end in zip(index_tuples.T[:-1], index_tuples.T[1:], strict=True):
        step = positions[:, end] - positions[:, start]
        if cells is not None:
            step = np.stack(
                [find_mic(s, cell, pbc)[0] for s, cell in zip(step, cells, strict=True)]
            )
        vectors.append(step)
    return vectors, single


def _as_frames(images):
    """Positions (F, N, 3), cells (F, 3, 3) or None when not periodic, pbc, single."""
    if isinstance(images, Atoms):
        positions, cells, pbc, _ = _as_frames([images])
        return positions, cells, pbc, True
    if not isinstance(images, np.ndarray):
        images = list(images)
        if not images:
            raise ValueError("no frames given: pass at least one ase.Atoms")
        if isinstance(images[0], Atoms):
            positions = np.stack([atoms.positions for atoms in images])
            pbc = images[0].pbc.copy()
            if not pbc.any():
                return positions, None, None, False
            cells = np.stack([atoms.cell.array for atoms in images])
            return positions, cells, pbc, False
    positions = np.asarray(images, dtype=np.float64)
    if positions.ndim not in (2, 3) or positions.shape[-1] != 3:
        raise ValueError(
            f"positions must have shape (N, 3) or (F, N, 3); got {positions.shape}"
        )
    return positions.reshape(-1, *positions.shape[-2:]), None, None, positions.ndim == 2
