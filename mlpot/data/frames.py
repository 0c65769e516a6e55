"""`Frames`: labelled structures held as packed numpy arrays, in eV and Å."""

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import numpy as np


@dataclass
class Frames:
    """A set of structures with optional energy and force labels.

    Atoms of all frames are packed one after the other; ``n_atoms`` says how
    many belong to each frame. Units inside are always eV and Å; the units of
    the source file are kept in ``attrs["source_energy_unit"]`` and
    ``attrs["source_length_unit"]``.

    Attributes
    ----------
    positions : ndarray, shape (A, 3), float64
        Positions in Å for all A atoms of all frames.
    numbers : ndarray, shape (A,), int64
        Atomic numbers.
    n_atoms : ndarray, shape (F,), int64
        Atoms per frame.
    energy : ndarray, shape (F,), float64, or None
        Total energies in eV.
    forces : ndarray, shape (A, 3), float64, or None
        Forces in eV/Å.
    cell : ndarray, shape (F, 3, 3), float64, or None
        Lattice vectors (rows) in Å; ``None`` for free molecules.
    pbc : ndarray, shape (F, 3), bool, or None
        Periodic directions; ``None`` for free molecules.
    frame_ids : ndarray, shape (F,), int64
        Identifier of each frame in its source (e.g. the index in the file).
    attrs : dict
        JSON-able provenance: source path, sha256, units, level of theory, ...
    """

    positions: np.ndarray
    numbers: np.ndarray
    n_atoms: np.ndarray
    energy: Optional[np.ndarray] = None
    forces: Optional[np.ndarray] = None
    cell: Optional[np.ndarray] = None
    pbc: Optional[np.ndarray] = None
    frame_ids: Optional[np.ndarray] = None
    attrs: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.positions = np.asarray(self.positions, dtype=np.float64).reshape(-1, 3)
        self.numbers = np.asarray(self.numbers, dtype=np.int64).reshape(-1)
        self.n_atoms = np.asarray(self.n_atoms, dtype=np.int64).reshape(-1)
        if self.frame_ids is None:
            self.frame_ids = np.arange(len(self.n_atoms), dtype=np.int64)
        self.frame_ids = np.asarray(self.frame_ids, dtype=np.int64)
        total = int(self.n_atoms.sum())
        if len(self.positions) != total or len(self.numbers) != total:
            raise ValueError(
                f"inconsistent array shapes: n_atoms sums to {total} atoms but "
                f"positions has {len(self.positions)} rows and numbers {len(self.numbers)}"
            )
        if self.energy is not None:
            self.energy = np.asarray(self.energy, dtype=np.float64).reshape(-1)
            if len(self.energy) != len(self.n_atoms):
                raise ValueError(
                    f"inconsistent array shapes: {len(self.energy)} energies for "
                    f"{len(self.n_atoms)} frames"
                )
        if self.forces is not None:
            self.forces = np.asarray(self.forces, dtype=np.float64).reshape(-1, 3)
            if len(self.forces) != total:
                raise ValueError(
                    f"inconsistent array shapes: {len(self.forces)} force rows for "
                    f"{total} atoms"
                )
        if len(self.frame_ids) != len(self.n_atoms):
            raise ValueError("inconsistent array shapes: one frame id per frame is needed")

    def __len__(self) -> int:
        return len(self.n_atoms)

    @property
    def offsets(self) -> np.ndarray:
        """Index of each frame's first atom, shape (F + 1,)."""
        return np.concatenate([[0], np.cumsum(self.n_atoms)])

    def atom_slice(self, k: int) -> slice:
        """Slice of the packed atom arrays that belongs to frame ``k``."""
        start = int(self.offsets[k])
        return slice(start, start + int(self.n_atoms[k]))

    def subset(self, indices) -> "Frames":
        """A new `Frames` with the frames at ``indices`` (in that order)."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        offsets = self.offsets
        atom_index = (
            np.concatenate([np.arange(offsets[k], offsets[k + 1]) for k in indices])
            if len(indices)
            else np.zeros(0, dtype=np.int64)
        )
        return Frames(
            positions=self.positions[atom_index],
            numbers=self.numbers[atom_index],
            n_atoms=self.n_atoms[indices],
            energy=None if self.energy is None else self.energy[indices],
            forces=None if self.forces is None else self.forces[atom_index],
            cell=None if self.cell is None else self.cell[indices],
            pbc=None if self.pbc is None else self.pbc[indices],
            frame_ids=self.frame_ids[indices],
            attrs=dict(self.attrs),
        )

    def to_atoms(self, k: int):
        """Frame ``k`` as an ``ase.Atoms`` with a SinglePointCalculator holding its labels."""
        from ase import Atoms
        from ase.calculators.singlepoint import SinglePointCalculator

        part = self.atom_slice(k)
        atoms = Atoms(numbers=self.numbers[part], positions=self.positions[part])
        if self.cell is not None:
            atoms.cell = self.cell[k]
            atoms.pbc = self.pbc[k] if self.pbc is not None else True
        labels = {}
        if self.energy is not None:
            labels["energy"] = float(self.energy[k])
        if self.forces is not None:
            labels["forces"] = self.forces[part].copy()
        if labels:
            atoms.calc = SinglePointCalculator(atoms, **labels)
        return atoms

    def species(self) -> np.ndarray:
        """Sorted unique atomic numbers present."""
        return np.unique(self.numbers)
