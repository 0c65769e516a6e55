"""Readers: rMD17 and sGDML npz, ase.io formats; units, provenance, errors."""

import hashlib
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator

from mlpot.data import Frames, UnitConsistencyError, read_frames
from mlpot.data.checks import energy_force_ratio

DATA = Path(__file__).parent / "data"
RMD17_TRAIN = DATA / "rmd17_ethanol_train_01_subset.npz"
RMD17_TEST = DATA / "rmd17_ethanol_test_01_subset.npz"
SGDML = DATA / "ethanol_ccsd_t-train_subset.npz"
XYZ = DATA / "ethanol_reduced_10.xyz"
KCAL_PER_MOL = units.kcal / units.mol  # eV


def test_rmd17_converts_kcal_per_mol_to_ev():
    frames = read_frames(RMD17_TRAIN)
    assert len(frames) == 20
    assert frames.numbers[:9].tolist() == [6, 6, 8, 1, 1, 1, 1, 1, 1]
    # The first frame's energy, read by hand from the file, in kcal/mol.
    raw = np.load(RMD17_TRAIN)
    assert raw["energies"][0] == -97079.92222178938
    assert frames.energy[0] == -97079.92222178938 * KCAL_PER_MOL
    assert frames.energy[0] == pytest.approx(-4209.7838338, abs=1e-6)
    np.testing.assert_array_equal(
        frames.forces[:9], raw["forces"][0] * (units.kcal / units.mol)
    )
    np.testing.assert_array_equal(frames.positions[:9], raw["coords"][0])


def test_rmd17_records_provenance_and_units():
    attrs = read_frames(RMD17_TRAIN).attrs
    assert attrs["source"] == RMD17_TRAIN.name
    assert (
        attrs["source_sha256"] == hashlib.sha256(RMD17_TRAIN.read_bytes()).hexdigest()
    )
    assert attrs["source_format"] == "rmd17"
    assert attrs["source_energy_unit"] == "kcal/mol"
    assert attrs["source_force_unit"] == "kcal/mol/Angstrom"
    assert attrs["source_length_unit"] == "Angstrom"
    assert attrs["level_of_theory"].startswith("PBE/def2-SVP")
    assert attrs["name"] == "ethanol"


def test_rmd17_original_labels():
    recomputed = read_frames(RMD17_TRAIN)
    original = read_frames(RMD17_TRAIN, labels="original")
    raw = np.load(RMD17_TRAIN)
    assert original.energy[0] == raw["old_energies"][0] * KCAL_PER_MOL
    np.testing.assert_array_equal(
        original.forces[:9], raw["old_forces"][0] * KCAL_PER_MOL
    )
    assert original.attrs["level_of_theory"].startswith("PBE+vdW-TS")
    # The two DFT setups differ by a near-constant -119.8 kcal/mol for ethanol.
    offset = (original.energy - recomputed.energy) / KCAL_PER_MOL
    assert np.all((offset > -123) & (offset < -117))


def test_sgdml_reader():
    frames = read_frames(SGDML)
    raw = np.load(SGDML)
    assert len(frames) == 10
    assert frames.energy[0] == raw["E"][0, 0] * KCAL_PER_MOL
    np.testing.assert_array_equal(frames.forces[-9:], raw["F"][-1] * KCAL_PER_MOL)
    assert frames.attrs["source_format"] == "sgdml"
    assert frames.attrs["level_of_theory"] == "Psi4: CCSD(T), cc-pVTZ"
    assert frames.attrs["name"] == "ethanol_ccsd"


def test_extxyz_in_kcal_per_mol_matches_the_npz_frames():
    from_xyz = read_frames(XYZ, energy_unit="kcal/mol")
    from_npz = read_frames(RMD17_TRAIN).subset(range(10))
    assert from_xyz.attrs["source_format"] == "extxyz"
    assert from_xyz.attrs["source_force_unit"] == "kcal/mol/Angstrom"
    np.testing.assert_array_equal(from_xyz.energy, from_npz.energy)
    # The XYZ file lists the atoms as H x6, C, C, O; the npz as C, C, O, H x6.
    order = np.concatenate(
        [k * 9 + np.array([3, 4, 5, 6, 7, 8, 0, 1, 2]) for k in range(10)]
    )
    np.testing.assert_array_equal(from_xyz.numbers, from_npz.numbers[order])
    np.testing.assert_array_equal(from_xyz.positions, from_npz.positions[order])
    np.testing.assert_array_equal(from_xyz.forces, from_npz.forces[order])


def test_extxyz_read_as_ev_is_reported():
    with pytest.raises(UnitConsistencyError, match="energy_unit='kcal/mol'"):
        read_frames(XYZ)


def test_unit_check_can_be_skipped():
    frames = read_frames(XYZ, check_units=False)
    assert frames.attrs["source_energy_unit"] == "eV"
    assert frames.energy[0] == -97079.92222178938


def test_forces_in_another_unit_than_energies_are_reported():
    # The subset holds close pairs of frames, so the check reaches a verdict.
    assert 0.8 < energy_force_ratio(read_frames(RMD17_TRAIN)) < 1.25
    with pytest.raises(UnitConsistencyError, match=r"\(1 kcal/mol\)/\(1 eV\)"):
        read_frames(RMD17_TRAIN, force_unit="eV/Angstrom")
    with pytest.raises(UnitConsistencyError, match=r"\(1 meV\)/\(1 kcal/mol\)"):
        read_frames(RMD17_TRAIN, energy_unit="meV", force_unit="kcal/mol/Angstrom")


def test_hartree_energies_are_implausible_for_md17():
    with pytest.raises(UnitConsistencyError, match="too large to be in Hartree"):
        read_frames(SGDML, energy_unit="Hartree")


@pytest.mark.parametrize("path", [RMD17_TRAIN, RMD17_TEST, SGDML])
def test_no_false_alarm_on_the_shipped_files(path):
    for labels in ("default", "original") if "rmd17" in path.name else ("default",):
        frames = read_frames(path, labels=labels)
        assert np.all(np.abs(frames.energy / frames.n_atoms) < 500)


def test_other_ase_format_and_periodic_cells(tmp_path):
    images = []
    for k in range(3):
        atoms = bulk("Cu", cubic=True) * (2, 1, 1)
        atoms.rattle(0.01 * (k + 1), seed=k)
        forces = np.random.default_rng(k).normal(size=(len(atoms), 3))
        atoms.calc = SinglePointCalculator(
            atoms, energy=-3.7 * len(atoms) + k, forces=forces
        )
        images.append(atoms)
    ase.io.write(tmp_path / "cu.traj", images)
    frames = read_frames(tmp_path / "cu.traj")
    assert frames.attrs["source_format"] == "traj"
    assert frames.attrs["source_energy_unit"] == "eV"
    np.testing.assert_array_equal(frames.cell[2], images[2].cell.array)
    assert frames.pbc.all()
    np.testing.assert_array_equal(
        frames.energy, [a.get_potential_energy() for a in images]
    )
    np.testing.assert_array_equal(
        frames.forces, np.concatenate([a.get_forces() for a in images])
    )
    np.testing.assert_array_equal(frames.positions[8:16], images[1].positions)


def test_lengths_in_bohr_are_converted(tmp_path):
    raw = dict(np.load(SGDML))
    raw["R"] = raw["R"] / units.Bohr
    np.savez(tmp_path / "bohr.npz", **raw)
    frames = read_frames(
        tmp_path / "bohr.npz", length_unit="bohr", force_unit="kcal/mol/Angstrom"
    )
    np.testing.assert_allclose(
        frames.positions, read_frames(SGDML).positions, rtol=1e-14
    )
    assert frames.attrs["source_length_unit"] == "Bohr"


# --- clear errors -------------------------------------------------------------


def _write_rmd17(path, **changes):
    arrays = dict(np.load(RMD17_TRAIN))
    arrays.update(changes)
    for name in [name for name, value in changes.items() if value is None]:
        del arrays[name]
    np.savez(path, **arrays)
    return path


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="no such file.*mlpot-data download"):
        read_frames(DATA / "no_such_file.npz")


def test_unknown_format(tmp_path):
    odd = tmp_path / "frames.foo"
    odd.write_text("not a structure file\n")
    with pytest.raises(ValueError, match="unknown format.*pass format="):
        read_frames(odd)
    with pytest.raises(
        ValueError, match="ase.io could not read .* as 'gamess-us-punch'"
    ):
        read_frames(odd, format="gamess-us-punch")
    with pytest.raises(ValueError, match="unknown format 'pdbqt'"):
        read_frames(RMD17_TRAIN, format="pdbqt")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match=r"unknown npz layout.*\['a'\]"):
        read_frames(tmp_path / "other.npz")


@pytest.mark.parametrize(
    "removed, what", [("energies", "energies"), ("forces", "forces")]
)
def test_missing_labels_in_npz(tmp_path, removed, what):
    path = _write_rmd17(tmp_path / "rmd17_x.npz", **{removed: None})
    with pytest.raises(
        ValueError, match=f"missing {what} in .*no array \\['{removed}'\\]"
    ):
        read_frames(path)


def test_missing_labels_in_sgdml_and_xyz(tmp_path):
    raw = dict(np.load(SGDML))
    del raw["E"]
    np.savez(tmp_path / "forces_only.npz", **raw)
    with pytest.raises(ValueError, match="missing energies"):
        read_frames(tmp_path / "forces_only.npz")
    images = ase.io.read(XYZ, ":")
    for atoms in images:
        atoms.calc = SinglePointCalculator(atoms, energy=atoms.get_potential_energy())
    ase.io.write(tmp_path / "no_forces.xyz", images)
    # A file without forces is energy-only data (a scan, a reaction path).
    energy_only = read_frames(tmp_path / "no_forces.xyz", energy_unit="kcal/mol")
    assert energy_only.forces is None and len(energy_only) == len(images)


def test_inconsistent_shapes(tmp_path):
    forces = np.load(RMD17_TRAIN)["forces"]
    path = _write_rmd17(tmp_path / "rmd17_x.npz", forces=forces[:19])
    with pytest.raises(
        ValueError, match=r"inconsistent array shapes.*forces has shape \(19, 9, 3\)"
    ):
        read_frames(path)
    path = _write_rmd17(tmp_path / "rmd17_y.npz", nuclear_charges=np.array([6, 6, 8]))
    with pytest.raises(ValueError, match="inconsistent array shapes.*coords"):
        read_frames(path)


@pytest.mark.parametrize(
    "name, what",
    [("energies", "energies"), ("forces", "forces"), ("coords", "positions")],
)
def test_nan_values_are_rejected(tmp_path, name, what):
    values = np.load(RMD17_TRAIN)[name].copy()
    values[3] = np.nan
    path = _write_rmd17(tmp_path / "rmd17_x.npz", **{name: values})
    with pytest.raises(
        ValueError, match=f"{what} of 1 frame.*frames \\[3\\].*drop those frames"
    ):
        read_frames(path)


def test_label_set_and_unit_errors():
    with pytest.raises(ValueError, match="labels='original'.*drop labels"):
        read_frames(SGDML, labels="original")
    with pytest.raises(ValueError, match="labels='newest'"):
        read_frames(RMD17_TRAIN, labels="newest")
    with pytest.raises(ValueError, match="unknown energy unit 'kcal'"):
        read_frames(RMD17_TRAIN, energy_unit="kcal")
    with pytest.raises(ValueError, match="force unit 'eV' must be written"):
        read_frames(RMD17_TRAIN, force_unit="eV")


def test_frames_shape_checks():
    with pytest.raises(ValueError, match="inconsistent array shapes"):
        Frames(
            positions=np.zeros((3, 3)),
            numbers=[1, 1, 1],
            n_atoms=[3],
            cell=np.zeros((2, 3, 3)),
        )


def test_label_keys_that_cannot_be_right_are_refused(tmp_path):
    import ase.io
    from ase.build import molecule
    from ase.calculators.singlepoint import SinglePointCalculator

    from mlpot.data import read_frames

    atoms = molecule("H2O")
    atoms.info["REF_energy"] = -10.0
    atoms.arrays["REF_forces"] = np.zeros((3, 3))
    path = tmp_path / "labelled.xyz"
    ase.io.write(path, [atoms, atoms])
    with pytest.raises(ValueError, match="'positions' names the atoms' positions"):
        read_frames(path, energy_key="REF_energy", forces_key="positions")
    with pytest.raises(ValueError, match="is a per-frame value \\(atoms.info\\)"):
        read_frames(path, energy_key="REF_energy", forces_key="REF_energy")
    # A file whose energies ASE reads as calculator results (MACE/BOTNet style).
    atoms.calc = SinglePointCalculator(atoms, energy=-10.0, forces=np.zeros((3, 3)))
    computed = tmp_path / "computed.xyz"
    ase.io.write(computed, [atoms, atoms])
    with pytest.raises(ValueError, match="leave energy_key out .* the default reads"):
        read_frames(computed, energy_key="REF_energy_missing")
