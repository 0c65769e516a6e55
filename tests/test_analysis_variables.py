"""Molecule-specific geometric variables, with atoms found by connectivity."""

from pathlib import Path

import numpy as np
import pytest
from ase.build import molecule

from mlpot.analysis.variables import (
    folded_torsion,
    geometry_variables,
    variable_atoms,
)
from mlpot.data import Frames, read_frames
from mlpot.geometry.internal import bond_angles, bond_lengths, dihedral_angles

DATA = Path(__file__).parent / "data"


def read(name):
    return read_frames(DATA / f"rmd17_{name}_train_01_subset.npz")


def reordered(frames, order):
    positions = frames.positions.reshape(len(frames), -1, 3)[:, order]
    numbers = frames.numbers.reshape(len(frames), -1)[:, order]
    return Frames(positions.reshape(-1, 3), numbers.reshape(-1), frames.n_atoms)


def test_ethanol_variables_match_the_rmd17_atom_order():
    # rMD17 ethanol: C0 (bonded to O2), C1 (methyl), O2, hydroxyl H8.
    frames = read("ethanol")
    values = geometry_variables(frames, "ethanol")
    positions = frames.positions.reshape(len(frames), -1, 3)
    np.testing.assert_allclose(
        values["C-C bond (Å)"], bond_lengths(positions, [[0, 1]])[:, 0]
    )
    np.testing.assert_allclose(
        values["C-O bond (Å)"], bond_lengths(positions, [[0, 2]])[:, 0]
    )
    np.testing.assert_allclose(
        values["C-C-O angle (°)"], bond_angles(positions, [[1, 0, 2]])[:, 0]
    )
    dihedral = dihedral_angles(positions, [[8, 2, 0, 1]])[:, 0]
    np.testing.assert_allclose(
        values["H-O-C-C torsion (°)"], 180 - np.abs(180 - dihedral), atol=1e-9
    )
    assert all(v.shape == (20,) for v in values.values())


def test_variables_do_not_depend_on_the_atom_order():
    frames = read("aspirin")
    order = np.random.default_rng(0).permutation(21)
    first = geometry_variables(frames, "aspirin")
    second = geometry_variables(reordered(frames, order), "aspirin")
    assert first.keys() == second.keys()
    for name in first:
        np.testing.assert_allclose(first[name], second[name], atol=1e-9)


def test_aspirin_and_toluene_atoms_by_connectivity():
    aspirin = variable_atoms(read("aspirin").to_atoms(0), "aspirin")
    # Ring carbons C5 (carboxyl) and C6 (ester O12), acetyl carbon C11.
    assert aspirin["acetyl torsion C-C-O-C (°)"][1] == [(5, 6, 12, 11)]
    assert aspirin["carboxyl torsion C-C-C=O (°)"][1] == [(6, 5, 10, 7)]
    toluene = variable_atoms(read("toluene").to_atoms(0), "toluene")
    kind, quadruples, order = toluene["methyl torsion H-C-C-C (°)"]
    assert (kind, order, len(quadruples)) == ("torsion", 6, 6)
    assert toluene["C-CH3 bond (Å)"][1] == [(1, 0)]
    values = geometry_variables(read("toluene"), "toluene")
    assert (
        (values["methyl torsion H-C-C-C (°)"] >= 0)
        & (values["methyl torsion H-C-C-C (°)"] <= 30)
    ).all()
    # rMD17 toluene: methyl C0 on ring C1; ring C1-C2-C3-C4-C5-C6.
    ring = [(1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (1, 6)]
    assert sorted(toluene["ring C-C bonds, mean of six (Å)"][1]) == sorted(ring)
    frames = read("toluene")
    positions = frames.positions.reshape(len(frames), -1, 3)
    np.testing.assert_allclose(
        values["ring C-C bond at CH3 (Å)"],
        bond_lengths(positions, [[1, 2], [1, 6]]).mean(axis=1),
    )
    assert (np.abs(values["ring C-C bonds, mean of six (Å)"] - 1.40) < 0.05).all()


def test_torsions_fold_by_inversion_and_rotor_symmetry():
    assert folded_torsion([[10.0]]) == pytest.approx([10.0])
    assert folded_torsion([[-10.0]]) == pytest.approx([10.0])
    assert folded_torsion([[190.0]]) == pytest.approx([170.0])
    methyl = [[10.0, 130.0, 250.0], [-10.0, 110.0, 230.0], [55.0, 175.0, 295.0]]
    np.testing.assert_allclose(folded_torsion(methyl, 3), [10.0, 10.0, 55.0])
    # Noise on single hydrogens is averaged.
    assert folded_torsion([[12.0, 128.0, 250.0]], 3) == pytest.approx([10.0], abs=0.1)


def test_wrong_molecule_is_explained():
    with pytest.raises(ValueError, match="hold C2H6O, but toluene is C7H8"):
        geometry_variables(read("ethanol"), "toluene")
    with pytest.raises(ValueError, match="choose one of"):
        variable_atoms(molecule("CH4"), "methane")
