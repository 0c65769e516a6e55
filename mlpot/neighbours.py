"""Neighbour lists (matscipy for periodic cells, a k-d tree for free molecules),
with an optional Verlet skin for MD."""

import numpy as np
from matscipy.neighbours import neighbour_list as _matscipy_neighbour_list
from scipy.spatial import cKDTree


def neighbour_list(positions, cutoff, cell=None, pbc=None):
    """Directed pairs of atoms closer than ``cutoff``.

    Parameters
    ----------
    positions : array_like, shape (N, 3)
        Cartesian positions in Å.
    cutoff : float
        Cutoff radius in Å.
    cell : array_like, shape (3, 3), optional
        Lattice vectors as rows, in Å. Needed when any direction is periodic.
    pbc : array_like of bool, shape (3,), optional
        Periodic directions. ``None`` or all ``False`` means a free molecule.

    Returns
    -------
    i, j : ndarray of int64, shape (E,)
        Centre and neighbour indices (each pair appears in both directions).
    shifts : ndarray of int64, shape (E, 3)
        Cell shifts S with ``r_ij = positions[j] - positions[i] + S @ cell``.
    """
    positions = np.asarray(positions, dtype=np.float64)
    pbc = np.zeros(3, bool) if pbc is None else np.asarray(pbc, dtype=bool)
    if not pbc.any():
        # A k-d tree costs what the neighbours cost, wherever the atoms are; a
        # cell list over the bounding box would grow with its volume (one atom
        # 5000 Å away would cost seconds and gigabytes).
        pairs = cKDTree(positions).query_pairs(float(cutoff), output_type="ndarray")
        pairs = pairs[
            np.linalg.norm(positions[pairs[:, 1]] - positions[pairs[:, 0]], axis=1)
            < cutoff
        ]
        i = np.concatenate([pairs[:, 0], pairs[:, 1]])
        j = np.concatenate([pairs[:, 1], pairs[:, 0]])
        order = np.lexsort((j, i))
        i, j = i[order], j[order]
        shifts = np.zeros((len(i), 3), dtype=np.int64)
    else:
        cell = np.asarray(cell, dtype=np.float64)
        if abs(np.linalg.det(cell)) < 1e-9:
            raise ValueError(
                "periodic boundaries need a cell with non-zero volume; set "
                "atoms.cell or switch periodicity off with atoms.pbc = False"
            )
        check_periodic_images(len(positions), cutoff, cell, pbc)
        i, j, shifts = _matscipy_neighbour_list(
            "ijS", positions=positions, cutoff=float(cutoff), cell=cell, pbc=pbc
        )
    return i.astype(np.int64), j.astype(np.int64), shifts.astype(np.int64)


# Far above any condensed system at the cutoffs of interatomic potentials (water at
# 6 Å: about 90 neighbours), far below what exhausts memory.
MAX_NEIGHBOURS_PER_ATOM = 2000


def check_periodic_images(n_atoms: int, cutoff: float, cell, pbc) -> None:
    """Refuse a cell whose periodic images within ``cutoff`` would flood memory.

    Counts, before any allocation, the periodic images of the cell within
    ``cutoff`` (from the distances between its lattice planes) and the
    neighbours per atom they imply.

    Raises
    ------
    ValueError
        More than `MAX_NEIGHBOURS_PER_ATOM` neighbours per atom expected.
    """
    cell = np.asarray(cell, dtype=np.float64)
    volume = abs(np.linalg.det(cell))
    spacing = [
        volume / np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3]))
        for k in range(3)
    ]
    images = [
        2 * int(np.ceil(cutoff / spacing[k])) + 1 if pbc[k] else 1 for k in range(3)
    ]
    # Every atom meets every image of every atom within reach, at most.
    expected = min(
        float(np.prod(images)) * n_atoms,
        _sphere_neighbours(n_atoms, cutoff, volume, pbc),
    )
    if expected > MAX_NEIGHBOURS_PER_ATOM:
        widths = ", ".join(f"{w:.3g}" for w, p in zip(spacing, pbc, strict=True) if p)
        raise ValueError(
            "the periodic cell is too small for a neighbour search out to "
            f"{cutoff:g} Å: its "
            f"periodic widths are {widths} Å, so each atom would meet about "
            f"{expected:.3g} periodic images of atoms (at most "
            f"{MAX_NEIGHBOURS_PER_ATOM} are accepted). Check atoms.cell (a cell in "
            "nm or Bohr read as Å?), or set atoms.pbc = False for a free molecule"
        )


def _sphere_neighbours(n_atoms, cutoff, volume, pbc) -> float:
    """Neighbours per atom of a uniform fully periodic system (inf otherwise)."""
    if not np.all(pbc):
        return float("inf")
    return 4.0 / 3.0 * np.pi * cutoff**3 * n_atoms / volume


def edge_lengths(positions, i, j, shifts, cell=None):
    """Lengths in Å of the edges ``(i, j, shifts)``, shape (E,)."""
    vectors = positions[j] - positions[i]
    if cell is not None and len(shifts):
        vectors = vectors + shifts @ np.asarray(cell)
    return np.linalg.norm(vectors, axis=1)


class VerletNeighbourList:
    """A neighbour list that is rebuilt only when atoms have moved far enough.

    The list is built with ``cutoff + skin`` and reused until some atom has
    moved more than ``skin / 2`` from where it was at the last build (or the
    numbers, cell or periodicity change). Each call returns exactly the pairs
    within ``cutoff``, so results do not depend on ``skin``.

    Parameters
    ----------
    cutoff : float
        Interaction cutoff in Å.
    skin : float
        Extra radius in Å; ``0`` rebuilds on every call.

    Attributes
    ----------
    lengths : ndarray, shape (E,)
        Lengths in Å of the pairs the last call returned.
    """

    def __init__(self, cutoff, skin=0.5):
        if skin < 0:
            raise ValueError(f"skin must be >= 0 Å, got {skin}")
        self.cutoff = float(cutoff)
        self.skin = float(skin)
        self.num_builds = 0
        self.lengths = np.zeros(0)
        self._key = None
        self._reference_positions = None
        self._pairs = None

    def _needs_rebuild(self, positions, key):
        if self._pairs is None or self._key is None:
            return True
        same = len(key[0]) == len(self._key[0]) and all(
            np.array_equal(a, b) for a, b in zip(key, self._key, strict=True)
        )
        if not same:
            return True
        displacement = np.linalg.norm(positions - self._reference_positions, axis=1)
        return displacement.max(initial=0.0) > 0.5 * self.skin

    def get(self, positions, numbers, cell=None, pbc=None):
        """Pairs within ``cutoff`` of positions in Å; see :func:`neighbour_list`."""
        positions = np.asarray(positions, dtype=np.float64)
        pbc = np.zeros(3, bool) if pbc is None else np.asarray(pbc, dtype=bool)
        cell_array = np.zeros((3, 3)) if cell is None else np.asarray(cell, np.float64)
        key = (np.asarray(numbers), cell_array, pbc)
        if self._needs_rebuild(positions, key):
            self._pairs = neighbour_list(
                positions, self.cutoff + self.skin, cell_array, pbc
            )
            self._reference_positions = positions.copy()
            self._key = tuple(np.array(k, copy=True) for k in key)
            self.num_builds += 1
        i, j, shifts = self._pairs
        lengths = edge_lengths(
            positions, i, j, shifts, cell_array if pbc.any() else None
        )
        keep = lengths < self.cutoff
        self.lengths = lengths[keep]
        return i[keep], j[keep], shifts[keep]
