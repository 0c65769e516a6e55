"""The one structure representation: :data:`AtomicGraph`, built from ``ase.Atoms``.

Keys, shapes and units are documented in :mod:`mlpot.keys`.
"""

from typing import Dict, Iterable, List, Optional

import numpy as np
import torch

from mlpot import keys
from mlpot.neighbours import neighbour_list

AtomicGraph = Dict[str, torch.Tensor]


def check_structure(positions, numbers):
    """Raise ``ValueError`` for an empty structure or non-finite positions.

    Parameters
    ----------
    positions : ndarray, shape (N, 3)
        Positions in Å.
    numbers : ndarray, shape (N,)
        Atomic numbers.
    """
    if len(numbers) == 0:
        raise ValueError("the structure has no atoms; add atoms before evaluating it")
    bad = ~np.isfinite(positions).all(axis=1)
    if bad.any():
        raise ValueError(
            f"positions of atoms {np.flatnonzero(bad)[:10].tolist()} are NaN or "
            "infinite; check how the structure was built or read"
        )


def from_arrays(
    positions,
    numbers,
    r_max: float,
    cell=None,
    pbc=None,
    edges=None,
    dtype: torch.dtype = torch.float64,
) -> AtomicGraph:
    """Build a one-structure graph from plain arrays.

    Parameters
    ----------
    positions : array_like, shape (N, 3)
        Positions in Å.
    numbers : array_like, shape (N,)
        Atomic numbers.
    r_max : float
        Neighbour cutoff in Å.
    cell : array_like, shape (3, 3), optional
        Lattice vectors (rows) in Å; used only when ``pbc`` has a periodic direction.
    pbc : array_like of bool, shape (3,), optional
        Periodic directions.
    edges : tuple of ndarray, optional
        Precomputed ``(i, j, shifts)`` from :func:`mlpot.neighbours.neighbour_list`.
        Whoever built them has checked the structure (a neighbour search needs
        finite positions), so it is not checked again; without ``edges`` it is
        checked with :func:`check_structure` before the search.
    dtype : torch.dtype
        Floating point type of positions and cell.

    Returns
    -------
    AtomicGraph
    """
    positions = np.asarray(positions, dtype=np.float64)
    numbers = np.asarray(numbers, dtype=np.int64)
    if edges is None:
        check_structure(positions, numbers)
    pbc = np.zeros(3, bool) if pbc is None else np.asarray(pbc, dtype=bool)
    periodic = bool(pbc.any())
    if edges is None:
        edges = neighbour_list(positions, r_max, cell if periodic else None, pbc)
    i, j, shifts = edges
    graph = {
        keys.POSITIONS: torch.as_tensor(positions, dtype=dtype),
        keys.NUMBERS: torch.as_tensor(numbers),
        keys.BATCH: torch.zeros(len(numbers), dtype=torch.int64),
        keys.NUM_ATOMS: torch.tensor([len(numbers)], dtype=torch.int64),
        keys.EDGE_INDEX: torch.as_tensor(np.stack([i, j])),
    }
    if periodic:
        graph[keys.CELL] = torch.as_tensor(np.asarray(cell), dtype=dtype).reshape(
            1, 3, 3
        )
        graph[keys.EDGE_SHIFT] = torch.as_tensor(shifts, dtype=dtype)
    return graph


def from_frames(
    frames, r_max: float, dtype: torch.dtype = torch.float64, labels: bool = False
) -> List[AtomicGraph]:
    """One graph per frame of a :class:`mlpot.data.Frames`.

    Parameters
    ----------
    frames : mlpot.data.Frames
        Structures in Å (with energies in eV and forces in eV/Å for ``labels``).
    r_max : float
        Neighbour cutoff in Å.
    dtype : torch.dtype
        Floating point type of positions and cell.
    labels : bool
        Add ``energy`` (1,) and, when the frames have forces, ``forces`` (n, 3),
        float64, eV and eV/Å.

    Returns
    -------
    list of AtomicGraph
    """
    graphs = []
    for k in range(len(frames)):
        part = frames.atom_slice(k)
        graph = from_arrays(
            frames.positions[part],
            frames.numbers[part],
            r_max,
            cell=None if frames.cell is None else frames.cell[k],
            pbc=None if frames.pbc is None else frames.pbc[k],
            dtype=dtype,
        )
        if labels:
            graph[keys.ENERGY] = torch.tensor([frames.energy[k]], dtype=torch.float64)
            if frames.forces is not None:
                graph[keys.FORCES] = torch.as_tensor(
                    frames.forces[part], dtype=torch.float64
                )
        graphs.append(graph)
    return graphs


def from_atoms(atoms, r_max: float, dtype: torch.dtype = torch.float64, edges=None):
    """Build a one-structure :data:`AtomicGraph` from an ``ase.Atoms``.

    Parameters
    ----------
    atoms : ase.Atoms
        The structure; positions and cell in Å.
    r_max : float
        Neighbour cutoff in Å.
    dtype : torch.dtype
        Floating point type of positions and cell.
    edges : tuple of ndarray, optional
        Precomputed ``(i, j, shifts)``, e.g. from a Verlet list.

    Examples
    --------
    >>> from ase.build import molecule
    >>> graph = from_atoms(molecule("H2O"), r_max=4.0)
    >>> graph["edge_index"].shape
    torch.Size([2, 6])
    """
    return from_arrays(
        atoms.positions,
        atoms.numbers,
        r_max,
        cell=atoms.cell.array,
        pbc=atoms.pbc,
        edges=edges,
        dtype=dtype,
    )


def collate(graphs: Iterable[AtomicGraph]) -> AtomicGraph:
    """Concatenate graphs into one batch, offsetting atom indices.

    Per-atom and per-edge tensors are concatenated; ``batch`` numbers the
    structures 0..B-1. If some structures are periodic, free ones get a zero
    cell and zero edge shifts so that the batch has one layout.

    Parameters
    ----------
    graphs : iterable of AtomicGraph
        Structures to batch (each may itself be a batch).

    Returns
    -------
    AtomicGraph
    """
    graphs = list(graphs)
    if not graphs:
        raise ValueError("collate needs at least one graph")
    if len(graphs) == 1:
        return dict(graphs[0])
    periodic = any(keys.CELL in g for g in graphs)
    atom_offset = 0
    structure_offset = 0
    batch: Dict[str, List[torch.Tensor]] = {}
    for g in graphs:
        n_structures = len(g[keys.NUM_ATOMS])
        dtype = g[keys.POSITIONS].dtype
        parts = {
            keys.POSITIONS: g[keys.POSITIONS],
            keys.NUMBERS: g[keys.NUMBERS],
            keys.BATCH: g[keys.BATCH] + structure_offset,
            keys.NUM_ATOMS: g[keys.NUM_ATOMS],
            keys.EDGE_INDEX: g[keys.EDGE_INDEX] + atom_offset,
        }
        if periodic:
            num_edges = g[keys.EDGE_INDEX].shape[1]
            parts[keys.CELL] = g.get(
                keys.CELL, torch.zeros(n_structures, 3, 3, dtype=dtype)
            )
            parts[keys.EDGE_SHIFT] = g.get(
                keys.EDGE_SHIFT, torch.zeros(num_edges, 3, dtype=dtype)
            )
        for key in (keys.ENERGY, keys.FORCES):
            if key in g:
                parts[key] = g[key]
        for key, value in parts.items():
            batch.setdefault(key, []).append(value)
        atom_offset += len(g[keys.NUMBERS])
        structure_offset += n_structures
    out = {
        key: torch.cat(values, dim=1 if key == keys.EDGE_INDEX else 0)
        for key, values in batch.items()
    }
    for key in (keys.ENERGY, keys.FORCES):
        if key in out and len(batch[key]) != len(graphs):
            raise ValueError(f"some graphs in the batch have '{key}' and some do not")
    return out


def num_structures(graph: AtomicGraph) -> int:
    """Number of structures B in a graph."""
    return int(graph[keys.NUM_ATOMS].shape[0])


def to_device(graph: AtomicGraph, device=None, dtype: Optional[torch.dtype] = None):
    """Copy of ``graph`` on ``device`` with floating tensors cast to ``dtype``."""
    out = {}
    for key, value in graph.items():
        if (
            dtype is not None
            and value.is_floating_point()
            and key not in (keys.ENERGY,)
        ):
            value = value.to(dtype)
        out[key] = value.to(device) if device is not None else value
    return out
