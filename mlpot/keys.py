"""Keys of an :data:`~mlpot.graph.AtomicGraph`, with the shape and unit of each.

An ``AtomicGraph`` is a plain ``Dict[str, torch.Tensor]`` holding one or more
structures.  ``N`` is the total number of atoms, ``E`` the number of directed
edges and ``B`` the number of structures in the batch.

Edge convention (the same as ASE's ``neighbor_list("ijS")`` and NequIP):
``edge_index[0]`` is the centre atom *i*, ``edge_index[1]`` its neighbour *j*,
and the edge vector, computed inside the model so that autograd reaches the
positions, is ``r_ij = pos[j] - pos[i] + edge_shift @ cell[batch[i]]``.
"""

from typing import Final

POSITIONS: Final[str] = "pos"  # (N, 3) float | Å
NUMBERS: Final[str] = "numbers"  # (N,) int64 | atomic numbers
BATCH: Final[str] = "batch"  # (N,) int64 | index of the structure each atom belongs to
NUM_ATOMS: Final[str] = "num_atoms"  # (B,) int64 | atoms per structure
EDGE_INDEX: Final[str] = "edge_index"  # (2, E) int64 | rows: centre i, neighbour j
# Present only for structures with periodic boundaries:
CELL: Final[str] = "cell"  # (B, 3, 3) float | Å, lattice vectors as rows (ASE)
EDGE_SHIFT: Final[str] = (
    "edge_shift"  # (E, 3) float | integer cell shifts S of each edge
)

# Training batches split over data-parallel workers carry the size of the whole batch:
TOTAL_STRUCTURES: Final[str] = "total_structures"  # () int64 | structures in the batch
TOTAL_ATOMS: Final[str] = "total_atoms"  # () int64 | atoms in the whole batch
# A worker with no share of a (last, small) batch trains on a copy of one structure
# with weight 0, so that every worker runs the same forward and backward passes:
SHARE_WEIGHT: Final[str] = "share_weight"  # () float64 | 1, or 0 for such a copy

# An engine's domain (LAMMPS over MPI ranks) holds its own atoms and ghost copies of
# atoms owned elsewhere; only its own atoms' energies count towards the energy that
# is differentiated, so each ghost gets the force that its owner must add:
LOCAL: Final[str] = "local"  # (N,) bool | True for atoms whose energy counts

# Targets and predictions use ASE's property names.
ENERGY: Final[str] = "energy"  # (B,) float64 | eV
ENERGIES: Final[str] = "energies"  # (N,) float | eV, per-atom energy
FORCES: Final[str] = "forces"  # (N, 3) float | eV/Å
STRESS: Final[str] = "stress"  # (B, 3, 3) float | eV/Å³, (1/V) dE/dstrain
