import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule

from mlpot.geometry.internal import (
    angle_triples,
    bond_angles,
    bond_lengths,
    bonded_pairs,
    dihedral_angles,
    group_by_elements,
)


def four_atoms(dihedral_deg):
    """a-b-c-d with b at the origin, c on z, a on x and d turned by the angle."""
    angle = np.radians(dihedral_deg)
    return np.array(
        [
            [1.0, 0.0, 0.0],
            [0.0, 0.0, 0.0],
            [0.0, 0.0, 1.5],
            [np.cos(angle), np.sin(angle), 1.5],
        ]
    )


@pytest.mark.parametrize(
    "set_to, expected",
    [
        (0.0, 0.0),
        (60.0, 60.0),
        (179.9, 179.9),
        (180.0, 180.0),
        (180.1, 180.1),
        (-179.9, 180.1),
        (-60.0, 300.0),
        (-0.1, 359.9),
        (359.99, 359.99),
    ],
)
def test_dihedral_of_known_geometries_wraps_to_0_360(set_to, expected):
    atoms = Atoms("HCCH", four_atoms(set_to))
    value = dihedral_angles(atoms, [[0, 1, 2, 3]])
    assert value.shape == (1,)
    assert value[0] == pytest.approx(expected, abs=1e-9)
    assert 0.0 <= value[0] < 360.0
    assert value[0] == pytest.approx(atoms.get_dihedral(0, 1, 2, 3) % 360.0, abs=1e-9)


def test_dihedral_reversed_quadruple_has_the_same_angle():
    positions = four_atoms(75.0)
    forward, backward = dihedral_angles(positions, [[0, 1, 2, 3], [3, 2, 1, 0]])
    assert forward == pytest.approx(backward)


def test_frames_give_one_row_each():
    trajectory = np.stack([four_atoms(angle) for angle in (10.0, 200.0, 350.0)])
    values = dihedral_angles(trajectory, [[0, 1, 2, 3]])
    assert values.shape == (3, 1)
    np.testing.assert_allclose(values[:, 0], [10.0, 200.0, 350.0])
    images = [Atoms("HCCH", positions) for positions in trajectory]
    np.testing.assert_allclose(dihedral_angles(images, [[0, 1, 2, 3]]), values)


def test_bond_lengths_and_angles_of_a_known_triangle():
    positions = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 2.0, 0.0]])
    lengths = bond_lengths(positions, [[0, 1], [1, 2], [0, 2]])
    np.testing.assert_allclose(lengths, [1.0, 2.0, np.sqrt(5.0)])
    angles = bond_angles(positions, [[0, 1, 2], [1, 0, 2]])
    np.testing.assert_allclose(angles, [90.0, np.degrees(np.arctan(2.0))])


def test_periodic_cell_uses_the_minimum_image():
    """A molecule split by the cell boundary has the geometry of the whole one."""
    whole = Atoms("HCCH", four_atoms(110.0) + [4.4, 0.0, 0.0], cell=[5.0, 5.0, 5.0])
    split = whole.copy()
    split.pbc = True
    split.wrap()
    assert np.ptp(split.positions[:, 0]) > 3.0  # the atoms are on both sides
    quadruple, triple, pair = [[0, 1, 2, 3]], [[0, 1, 2]], [[0, 1]]
    assert dihedral_angles(split, quadruple) == pytest.approx(110.0)
    assert bond_angles(split, triple) == pytest.approx(bond_angles(whole, triple))
    assert bond_lengths(split, pair) == pytest.approx([1.0])


def test_collinear_atoms_have_no_dihedral():
    positions = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0], [2, 1, 0]])
    with pytest.raises(ZeroDivisionError):
        dihedral_angles(positions, [[0, 1, 2, 3]])


def test_out_of_range_index_names_the_limit():
    with pytest.raises(IndexError, match="between 0 and 3"):
        bond_lengths(four_atoms(0.0), [[0, 4]])


def test_ethane_bonds_and_angles_grouped_by_elements():
    ethane = molecule("C2H6")
    pairs = bonded_pairs(ethane)
    triples = angle_triples(pairs)
    assert len(pairs) == 7 and len(triples) == 12
    lengths = group_by_elements(
        bond_lengths([ethane, ethane], pairs), pairs, ethane.numbers
    )
    assert sorted(lengths) == ["C-C", "C-H"]
    assert lengths["C-C"].shape == (2,) and lengths["C-H"].shape == (12,)
    assert lengths["C-C"] == pytest.approx(1.5, abs=0.05)
    assert lengths["C-H"] == pytest.approx(1.09, abs=0.02)
    angles = group_by_elements(bond_angles(ethane, triples), triples, ethane.numbers)
    assert sorted(angles) == ["C-C-H", "H-C-H"]
    assert angles["C-C-H"] == pytest.approx(111.2, abs=0.5)
    assert len(angles["H-C-H"]) == 6
