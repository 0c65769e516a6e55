"""`Frames`: labelled structures held as packed numpy arrays, in eV and Å."""

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence

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
    config_type : ndarray, shape (F,), str, or None
        A tag per frame (extended XYZ's ``config_type``, e.g. ``"md_600K"``),
        by which evaluations break their errors down.
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
    config_type: Optional[np.ndarray] = None
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
                f"positions has {len(self.positions)} rows and numbers "
                f"{len(self.numbers)}"
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
        if self.config_type is not None:
            self.config_type = np.asarray(self.config_type, dtype=str).reshape(-1)
            if len(self.config_type) != len(self.n_atoms):
                raise ValueError(
                    f"inconsistent array shapes: {len(self.config_type)} config "
                    f"types for {len(self.n_atoms)} frames"
                )
        if len(self.frame_ids) != len(self.n_atoms):
            raise ValueError(
                "inconsistent array shapes: one frame id per frame is needed"
            )
        if self.cell is not None:
            self.cell = np.asarray(self.cell, dtype=np.float64).reshape(-1, 3, 3)
            if len(self.cell) != len(self.n_atoms):
                raise ValueError(
                    f"inconsistent array shapes: {len(self.cell)} cells for "
                    f"{len(self.n_atoms)} frames"
                )
        if self.pbc is not None:
            self.pbc = np.asarray(self.pbc, dtype=bool).reshape(-1, 3)
            if len(self.pbc) != len(self.n_atoms):
                raise ValueError(
                    f"inconsistent array shapes: {len(self.pbc)} pbc rows for "
                    f"{len(self.n_atoms)} frames"
                )

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
            config_type=None if self.config_type is None else self.config_type[indices],
            attrs=dict(self.attrs),
        )

    def to_atoms(self, k: int):
        """Frame ``k`` as ``ase.Atoms``, labels in a SinglePointCalculator."""
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

    def formula(self, k: int) -> str:
        """Chemical formula of frame ``k`` in Hill order, e.g. ``"C2H6O"``."""
        from mlpot.domain import formula

        return formula(self.numbers[self.atom_slice(k)])


def concatenate(parts: Sequence[Frames]) -> Frames:
    """Join several `Frames` into one, frames in the given order.

    Parameters
    ----------
    parts : sequence of Frames
        All must carry energies, or none; the same for forces. If some carry
        a cell, frames without one get a zero cell and ``pbc`` all False.

    Returns
    -------
    Frames
        With the ``attrs`` of the first part.
    """
    if not parts:
        raise ValueError("concatenate needs at least one Frames object")
    for name in ("energy", "forces"):
        present = [getattr(part, name) is not None for part in parts]
        if any(present) and not all(present):
            raise ValueError(
                f"some of the Frames to join have {name} labels and some do not; "
                "join only labelled frames, or drop the labels of all"
            )
    periodic = any(part.cell is not None for part in parts)

    def joined(name):
        arrays = [getattr(part, name) for part in parts]
        return None if arrays[0] is None else np.concatenate(arrays)

    return Frames(
        positions=joined("positions"),
        numbers=joined("numbers"),
        n_atoms=joined("n_atoms"),
        energy=joined("energy"),
        forces=joined("forces"),
        cell=np.concatenate([_cell_or_zero(part) for part in parts])
        if periodic
        else None,
        pbc=np.concatenate([_pbc_or_default(part) for part in parts])
        if periodic
        else None,
        frame_ids=joined("frame_ids"),
        config_type=np.concatenate([_tags_or_empty(part) for part in parts])
        if any(part.config_type is not None for part in parts)
        else None,
        attrs=dict(parts[0].attrs),
    )


def _tags_or_empty(frames: Frames) -> np.ndarray:
    if frames.config_type is not None:
        return frames.config_type
    return np.full(len(frames), "", dtype=str)


def _cell_or_zero(frames: Frames) -> np.ndarray:
    if frames.cell is not None:
        return frames.cell
    return np.zeros((len(frames), 3, 3))


def _pbc_or_default(frames: Frames) -> np.ndarray:
    if frames.pbc is not None:
        return frames.pbc
    # As in to_atoms: a cell without pbc means periodic in all directions.
    return np.full((len(frames), 3), frames.cell is not None)
