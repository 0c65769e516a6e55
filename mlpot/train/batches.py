"""Labelled graphs built once from `Frames`, and the batches of each epoch."""

from typing import List, Optional, Sequence

import torch

from mlpot import keys
from mlpot.data import Frames
from mlpot.graph import AtomicGraph, collate, from_frames
from mlpot.train.distributed import SINGLE_PROCESS, Workers


def labelled_graphs(
    frames: Frames, r_max: float, dtype: torch.dtype = torch.float64
) -> List[AtomicGraph]:
    """One graph per frame, neighbour list and labels included.

    Parameters
    ----------
    frames : Frames
        Structures with energies (eV) and forces (eV/Å).
    r_max : float
        Neighbour cutoff in Å.
    dtype : torch.dtype
        Floating point type of positions and cell.

    Returns
    -------
    list of AtomicGraph
        Each with ``energy`` (1,) float64 in eV and ``forces`` (n, 3) float64
        in eV/Å.
    """
    return from_frames(frames, r_max, dtype, labels=True)


def min_edge_length(graphs: Sequence[AtomicGraph]) -> Optional[float]:
    """The shortest edge in Å over ``graphs`` (None when they have no edges)."""
    shortest = None
    for graph in graphs:
        i, j = graph[keys.EDGE_INDEX]
        if len(i):
            vectors = graph[keys.POSITIONS][j] - graph[keys.POSITIONS][i]
            if keys.EDGE_SHIFT in graph:
                vectors = vectors + graph[keys.EDGE_SHIFT] @ graph[keys.CELL][0]
            length = float(vectors.norm(dim=1).min())
            shortest = length if shortest is None else min(shortest, length)
    return shortest


def average_num_neighbours(graphs: Sequence[AtomicGraph]) -> float:
    """Mean number of neighbours within r_max per atom over ``graphs``."""
    edges = sum(int(g[keys.EDGE_INDEX].shape[1]) for g in graphs)
    atoms = sum(int(g[keys.NUMBERS].shape[0]) for g in graphs)
    return edges / atoms


def fixed_batches(graphs: Sequence[AtomicGraph], batch_size: int) -> List[AtomicGraph]:
    """Batches of ``batch_size`` graphs in the given order (the last may be smaller)."""
    return [
        collate(graphs[start : start + batch_size])
        for start in range(0, len(graphs), batch_size)
    ]


def epoch_batches(
    graphs: Sequence[AtomicGraph],
    batch_size: int,
    seed: int,
    epoch: int,
    workers: Workers = SINGLE_PROCESS,
    augment_rotations: bool = False,
) -> List[AtomicGraph]:
    """Shuffled batches for one epoch, reproducible from ``seed`` and ``epoch``.

    The permutation comes from a ``torch.Generator`` seeded with
    ``seed + epoch``, so a resumed run shuffles exactly as an uninterrupted one;
    the random rotations of ``augment_rotations`` are drawn from the same
    generator after the permutation.

    Parameters
    ----------
    graphs : sequence of AtomicGraph
        Training graphs.
    batch_size : int
        Graphs per batch; the last batch holds the remainder.
    seed : int
        Run seed.
    epoch : int
        Zero-based epoch number.
    workers : Workers
        With several data-parallel workers, each batch holds this worker's
        share of the structures and the size of the whole batch
        (``total_structures``, ``total_atoms``), so that the losses of the
        shares add up to the loss of the whole batch. A worker whose share of
        a (last, small) batch is empty gets the batch's first structure with
        ``share_weight`` 0 (every other share has 1), so that all workers run
        the same passes.
    augment_rotations : bool
        Turn every structure by its own random orthogonal matrix (see
        :func:`random_orthogonal_matrices`), positions, cell and force labels
        alike, before batching.

    Returns
    -------
    list of AtomicGraph
    """
    generator = torch.Generator().manual_seed(seed + epoch)
    order = torch.randperm(len(graphs), generator=generator).tolist()
    shuffled = [graphs[k] for k in order]
    if augment_rotations:
        rotations = random_orthogonal_matrices(len(shuffled), generator)
        shuffled = [
            rotated_graph(g, q) for g, q in zip(shuffled, rotations, strict=True)
        ]
    if workers.world_size == 1:
        return fixed_batches(shuffled, batch_size)
    batches = []
    for start in range(0, len(shuffled), batch_size):
        whole = shuffled[start : start + batch_size]
        share = workers.share(whole)
        batch = collate(share or whole[:1])
        batch[keys.SHARE_WEIGHT] = torch.tensor(
            1.0 if share else 0.0, dtype=torch.float64
        )
        batch[keys.TOTAL_STRUCTURES] = torch.tensor(len(whole))
        batch[keys.TOTAL_ATOMS] = torch.tensor(sum(len(g[keys.NUMBERS]) for g in whole))
        batches.append(batch)
    return batches


def random_orthogonal_matrices(count: int, generator: torch.Generator) -> torch.Tensor:
    """Random orthogonal matrices, uniform (Haar) on O(3).

    Half of them, on average, are improper (a rotation times an inversion).
    Made by the QR decomposition of Gaussian matrices, with the signs fixed
    so that the distribution is uniform.

    Parameters
    ----------
    count : int
        Number of matrices.
    generator : torch.Generator
        Source of randomness.

    Returns
    -------
    Tensor, shape (count, 3, 3), float64
        Orthogonal matrices Q; a row vector x turns into ``x @ Q.T``.
    """
    gaussian = torch.randn(count, 3, 3, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(gaussian)
    return q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)


def rotated_graph(graph: AtomicGraph, rotation: torch.Tensor) -> AtomicGraph:
    """A copy of ``graph`` with positions, cell and forces turned by ``rotation``.

    Parameters
    ----------
    graph : AtomicGraph
        One labelled structure; the energy label is left as it is, and the
        edges and their integer cell shifts stay valid.
    rotation : Tensor, shape (3, 3)
        Orthogonal matrix Q; row vectors x become ``x @ Q.T``.

    Returns
    -------
    AtomicGraph
    """
    turned = dict(graph)
    for key in (keys.POSITIONS, keys.FORCES, keys.CELL):
        if key in graph:
            value = graph[key]
            turned[key] = (value.double() @ rotation.T).to(value.dtype)
    return turned
