import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, molecule
from ase.neighborlist import neighbor_list as ase_neighbor_list

from mlpot import keys
from mlpot.graph import collate, from_atoms
from mlpot.neighbours import VerletNeighbourList, neighbour_list


def pair_set(i, j, shifts):
    return set(
        zip(
            i.tolist(), j.tolist(), map(tuple, np.asarray(shifts).tolist()), strict=True
        )
    )


def structures():
    water_box = molecule("H2O")
    water_box = water_box.repeat((1, 1, 1))
    water_box.cell = [3.1, 3.2, 3.3]
    water_box.pbc = True
    slab = bulk("Cu", "fcc", a=3.6).repeat((2, 2, 1))
    slab.pbc = [True, True, False]
    slab.cell[2, 2] = 10.0
    tilted = bulk("Si", "diamond", a=5.43)
    return {
        "ethanol": molecule("CH3CH2OH"),
        "linear": Atoms("CO2", positions=[[0, 0, 0], [1.16, 0, 0], [-1.16, 0, 0]]),
        "water_box": water_box,
        "slab": slab,
        "tilted_cell": tilted,
    }


@pytest.mark.parametrize("name", sorted(structures()))
@pytest.mark.parametrize("cutoff", [1.5, 3.0, 5.0])
@pytest.mark.parametrize("transform", ["none", "rotate", "rotate_and_translate"])
def test_neighbour_list_equals_ase(name, cutoff, transform):
    atoms = structures()[name]
    if transform != "none":
        atoms.rotate(37, (1, 2, 3), rotate_cell=True)
    if transform == "rotate_and_translate":
        atoms.translate([0.3, -1.2, 7.0])
    ours = neighbour_list(atoms.positions, cutoff, atoms.cell.array, atoms.pbc)
    theirs = ase_neighbor_list("ijS", atoms, cutoff)
    assert len(ours[0]) == len(theirs[0])
    assert pair_set(*ours) == pair_set(*theirs)


def test_single_atom_has_no_edges():
    i, j, shifts = neighbour_list(np.zeros((1, 3)), 5.0)
    assert len(i) == len(j) == len(shifts) == 0


def test_verlet_list_reuses_and_rebuilds():
    atoms = molecule("CH3CH2OH")
    verlet = VerletNeighbourList(cutoff=2.0, skin=0.6)
    verlet.get(atoms.positions, atoms.numbers)
    assert verlet.num_builds == 1
    atoms.positions[0] += [0.2, 0.0, 0.0]  # below skin / 2: reuse
    moved = verlet.get(atoms.positions, atoms.numbers)
    assert verlet.num_builds == 1
    exact = neighbour_list(atoms.positions, 2.0)
    assert pair_set(*moved) == pair_set(*exact)
    atoms.positions[0] += [0.2, 0.0, 0.0]  # 0.4 in total > 0.3: rebuild
    verlet.get(atoms.positions, atoms.numbers)
    assert verlet.num_builds == 2
    verlet.get(atoms.positions, atoms.numbers[::-1])  # numbers changed: rebuild
    assert verlet.num_builds == 3


def test_periodic_cell_without_volume_is_rejected():
    with pytest.raises(ValueError, match="cell with non-zero volume"):
        neighbour_list(np.zeros((2, 3)), 3.0, np.zeros((3, 3)), [True] * 3)


def test_graph_keys_shapes_and_dtypes():
    graph = from_atoms(molecule("H2O"), r_max=3.0)
    assert graph[keys.POSITIONS].shape == (3, 3)
    assert graph[keys.POSITIONS].dtype == torch.float64
    assert graph[keys.EDGE_INDEX].shape == (2, 6)
    assert graph[keys.NUM_ATOMS].tolist() == [3]
    assert keys.CELL not in graph
    periodic = from_atoms(structures()["water_box"], r_max=3.0, dtype=torch.float32)
    assert periodic[keys.CELL].shape == (1, 3, 3)
    assert periodic[keys.EDGE_SHIFT].shape[0] == periodic[keys.EDGE_INDEX].shape[1]
    assert periodic[keys.POSITIONS].dtype == torch.float32


def test_collate_offsets_indices():
    water, methane = molecule("H2O"), molecule("CH4")
    batch = collate([from_atoms(water, 3.0), from_atoms(methane, 3.0)])
    assert batch[keys.BATCH].tolist() == [0] * 3 + [1] * 5
    assert batch[keys.NUM_ATOMS].tolist() == [3, 5]
    second = batch[keys.EDGE_INDEX][:, 6:]
    assert second.min() >= 3 and second.max() <= 7


def test_collate_mixes_free_and_periodic():
    batch = collate(
        [from_atoms(molecule("H2O"), 3.0), from_atoms(structures()["water_box"], 3.0)]
    )
    assert batch[keys.CELL].shape == (2, 3, 3)
    assert torch.all(batch[keys.CELL][0] == 0)
    assert batch[keys.EDGE_SHIFT].shape[0] == batch[keys.EDGE_INDEX].shape[1]


@pytest.mark.parametrize(
    "positions, message",
    [
        (np.zeros((0, 3)), "no atoms"),
        (np.array([[0.0, 0, 0], [np.nan, 0, 0]]), "NaN or infinite"),
    ],
)
def test_bad_structures_are_rejected(positions, message):
    atoms = Atoms(numbers=[1] * len(positions), positions=positions)
    with pytest.raises(ValueError, match=message):
        from_atoms(atoms, 3.0)


@pytest.mark.parametrize("distance", [5000.0, 1e5])
def test_a_far_atom_costs_nothing_and_has_no_neighbours(distance):
    atoms = molecule("CH3CH2OH")
    atoms.positions[0] += [distance, 0.0, 0.0]
    i, j, shifts = neighbour_list(atoms.positions, 5.0)
    assert 0 not in i and 0 not in j
    assert pair_set(i, j, shifts) == pair_set(*ase_neighbor_list("ijS", atoms, 5.0))


def test_a_cell_with_exploding_periodic_images_is_refused_before_allocating():
    import resource

    from ase import Atoms
    from conftest import make_model

    from mlpot import MLPotCalculator

    atoms = Atoms("H", positions=[[0, 0, 0]], cell=[0.1, 0.1, 0.1], pbc=True)
    atoms.calc = MLPotCalculator(make_model("invariant", species=(1,)))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(
        ValueError,
        match=(
            r"the periodic cell is too small for a neighbour search out to 4.5 Å: its "
            r"periodic widths are 0.1, 0.1, 0.1 Å, so each atom would meet about "
            r"3.82e\+05 periodic images"
        ),
    ):
        atoms.get_forces()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB
