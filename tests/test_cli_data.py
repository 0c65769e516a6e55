"""``mlpot-data info``, ``convert`` and ``split``, called in-process."""

from pathlib import Path

import numpy as np
import pytest

from mlpot.cli.data import main
from mlpot.data import load_split, read_frames, read_store

DATA = Path(__file__).parent / "data"
RMD17 = DATA / "rmd17_ethanol_train_01_subset.npz"
SGDML = DATA / "ethanol_ccsd_t-train_subset.npz"
XYZ = DATA / "ethanol_reduced_10.xyz"


def info_rows(text):
    return dict(line.split("  ", 1) for line in text.splitlines())


def test_info_rmd17(capsys):
    assert main(["info", str(RMD17)]) == 0
    rows = {
        key.strip(): value.strip()
        for key, value in info_rows(capsys.readouterr().out).items()
    }
    assert rows["format"] == "rmd17"
    assert rows["molecule"] == "ethanol, C2H6O (9 atoms)"
    assert rows["frames"] == "20"
    assert rows["source units"] == (
        "energy kcal/mol, forces kcal/mol/Angstrom, positions Angstrom"
    )
    energies = read_frames(RMD17).energy
    assert f"mean {energies.mean():.6g}" in rows["energy [eV]"]
    assert f"min {energies.min():.6g}" in rows["energy [eV]"]
    assert rows["duplicates"] == "none"


def test_info_reports_duplicates_and_theory(capsys):
    assert main(["info", str(SGDML)]) == 0
    out = capsys.readouterr().out
    assert "2 group(s): 6/7, 8/9" in out
    assert "Psi4: CCSD(T), cc-pVTZ" in out


def test_info_reports_wrong_units(capsys):
    assert main(["info", str(XYZ)]) == 1
    err = capsys.readouterr().err
    assert "too large to be in eV" in err and "--energy-unit" in err
    assert main(["info", str(XYZ), "--energy-unit", "kcal/mol"]) == 0
    assert "C2H6O (9 atoms)" in capsys.readouterr().out


def test_info_missing_file(capsys, tmp_path):
    assert main(["info", str(tmp_path / "none.npz")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_convert_and_append(tmp_path, capsys):
    store = tmp_path / "ethanol.h5"
    assert main(["convert", str(XYZ), str(store), "--energy-unit", "kcal/mol"]) == 0
    assert "wrote 10 frames" in capsys.readouterr().out
    converted = read_store(store)
    original = read_frames(XYZ, energy_unit="kcal/mol")
    np.testing.assert_array_equal(converted.energy, original.energy)
    np.testing.assert_array_equal(converted.forces, original.forces)
    assert converted.attrs["source_energy_unit"] == "kcal/mol"

    second = tmp_path / "sgdml.h5"
    assert main(["convert", str(SGDML), str(second)]) == 0
    assert main(["convert", str(SGDML), str(second), "--append"]) == 1
    assert "geometries of" in capsys.readouterr().err

    rmd17 = tmp_path / "rmd17.h5"
    rmd17_test = RMD17.with_name("rmd17_ethanol_test_01_subset.npz")
    assert main(["convert", str(RMD17), str(rmd17)]) == 0
    assert main(["convert", str(rmd17_test), str(rmd17), "--append"]) == 0
    combined = read_store(rmd17)
    assert len(combined) == len(read_frames(RMD17)) + len(read_frames(rmd17_test))
    assert len(set(combined.frame_ids.tolist())) == len(combined)
    assert main(["info", str(second)]) == 0
    out = capsys.readouterr().out
    assert "converted from    ethanol_ccsd_t-train_subset.npz (sgdml)" in out


def test_split_command(tmp_path, capsys):
    output = tmp_path / "split.json"
    argv = ["split", str(RMD17), "--train", "10", "--val", "5", "--seed", "3"]
    assert (
        main(
            [
                *argv,
                "--test-file",
                str(DATA / "rmd17_ethanol_test_01_subset.npz"),
                "-o",
                str(output),
            ]
        )
        == 0
    )
    assert "train 10, val 5, test 0" in capsys.readouterr().out
    frames = read_frames(RMD17)
    split = load_split(output, frames=frames)
    assert len(split["train"]) == 10 and len(split["val"]) == 5
    assert set(split["train"]).isdisjoint(split["val"])
    assert main([*argv, "--val", "15", "-o", str(tmp_path / "too_many.json")]) == 1
    assert "cannot split" in capsys.readouterr().err
    assert not (tmp_path / "too_many.json").exists()


def test_missing_subcommand_is_a_usage_error():
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2


def test_info_names_a_file_of_isolated_atoms(tmp_path, capsys):
    import ase.io
    from ase import Atoms

    atoms = [Atoms(symbol, cell=[10, 10, 10]) for symbol in "HCO"]
    for atom, energy in zip(atoms, (-13.6, -1029.4, -2043.2), strict=True):
        atom.info["REF_energy"] = energy
        atom.info["config_type"] = "IsolatedAtom"
    path = tmp_path / "isolated.xyz"
    ase.io.write(path, atoms)
    assert main(["info", str(path), "--energy-key", "REF_energy"]) == 0
    out = capsys.readouterr().out
    assert "none: isolated atoms (their energies are E0s: data.E0s)" in out
    assert "energy-only data (a scan" not in out
