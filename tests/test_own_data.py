"""A user's own extended-XYZ data: custom label keys, from file to calculator."""

from pathlib import Path

import numpy as np
import pytest
from ase.io import write
from test_train_loop import tiny_run

from mlpot.calculator import load_calculator
from mlpot.cli.evaluate import main as eval_main
from mlpot.data import read_frames
from mlpot.train import fit, load_resume_config

DATA = Path(__file__).parent / "data"
RMD17 = DATA / "rmd17_ethanol_train_01_subset.npz"


def write_ref_keyed(path, with_forces=True):
    """The rMD17 frames in eV under REF_energy (and REF_forces) in extended XYZ."""
    frames = read_frames(RMD17)
    images = []
    for k in range(len(frames)):
        atoms = frames.to_atoms(k)
        atoms.info["REF_energy"] = float(frames.energy[k])
        if with_forces:
            atoms.arrays["REF_forces"] = frames.forces[frames.atom_slice(k)].copy()
        atoms.calc = None
        images.append(atoms)
    write(path, images, format="extxyz")
    return path


@pytest.fixture(scope="module")
def ref_keyed_xyz(tmp_path_factory):
    return write_ref_keyed(tmp_path_factory.mktemp("own") / "ethanol_ref.xyz")


def test_label_keys_are_read(ref_keyed_xyz):
    original = read_frames(RMD17)
    keyed = read_frames(ref_keyed_xyz, energy_key="REF_energy", forces_key="REF_forces")
    np.testing.assert_allclose(keyed.energy, original.energy, rtol=1e-12)
    np.testing.assert_allclose(keyed.forces, original.forces, atol=1e-7)


def test_missing_labels_name_the_key_option(ref_keyed_xyz):
    with pytest.raises(ValueError, match="REF_energy.*energy_key="):
        read_frames(ref_keyed_xyz)


def test_label_keys_are_refused_for_fixed_formats():
    with pytest.raises(ValueError, match="labels have fixed names"):
        read_frames(RMD17, energy_key="E")


def test_train_and_evaluate_with_label_keys(ref_keyed_xyz, tmp_path, capsys):
    config = tiny_run(tmp_path / "run", train_file=ref_keyed_xyz, max_epochs=1)
    config.data.energy_key, config.data.forces_key = "REF_energy", "REF_forces"
    best = fit(config)
    assert load_calculator(best).model.metadata["data"]["train"]["n_frames"] == 20
    keys = ["--energy-key", "REF_energy", "--forces-key", "REF_forces"]
    assert eval_main([str(best), str(ref_keyed_xyz), *keys]) == 0
    assert "forces" in capsys.readouterr().out


def test_evaluation_reports_the_mean_signed_energy_error(tmp_path):
    import torch
    from conftest import make_model

    from mlpot.train.report import evaluate_file

    model = make_model("invariant")
    before = evaluate_file(model, RMD17)["metrics"]
    with torch.no_grad():
        model.atomic_energy_shift += 0.1  # +0.1 eV per atom, +0.9 eV per ethanol
    after = evaluate_file(model, RMD17, plot=tmp_path / "parity.png")["metrics"]
    shift = after["energy_mean_error_meV"] - before["energy_mean_error_meV"]
    assert shift == pytest.approx(900.0, rel=1e-9)
    assert abs(after["energy_mean_error_meV"]) <= after["energy_mae_meV"] + 1e-9
    assert (tmp_path / "parity.png").stat().st_size > 0


def test_training_frames_are_recognised_after_a_conversion(tmp_path):
    from mlpot.cli.data import main as data_main
    from mlpot.train.report import evaluate_file

    best = fit(tiny_run(tmp_path / "run", max_epochs=1))
    converted = tmp_path / "converted.xyz"
    assert data_main(["convert", str(RMD17), str(converted)]) == 0
    report = evaluate_file(best, converted)
    assert report["frames_seen_in_training"] == {"train": 15, "val": 5}
    assert report["in_training_file"]
    unseen = evaluate_file(best, DATA / "rmd17_ethanol_test_01_subset.npz")
    assert unseen["frames_seen_in_training"] == {"train": 0, "val": 0}
    assert not unseen["in_training_file"]


ISOLATED_EV = {"H": -13.6, "C": -1029.4, "O": -2043.2}


@pytest.fixture(scope="module")
def isolated_atoms_xyz(tmp_path_factory):
    from ase import Atoms

    images = []
    for symbol, energy in ISOLATED_EV.items():
        atoms = Atoms(symbol, positions=[[0.0, 0.0, 0.0]])
        atoms.info["REF_energy"] = energy
        atoms.info["config_type"] = "IsolatedAtom"
        images.append(atoms)
    path = tmp_path_factory.mktemp("e0s") / "isolated.xyz"
    write(path, images, format="extxyz")
    return path


@pytest.mark.parametrize("given", ["file", "mapping"])
def test_isolated_atom_energies_are_a_lone_atoms_energy(
    ref_keyed_xyz, isolated_atoms_xyz, tmp_path, given
):
    import warnings

    from ase import Atoms

    from mlpot.model.io import read_checkpoint

    config = tiny_run(tmp_path / "run", train_file=ref_keyed_xyz, max_epochs=2)
    config.data.energy_key, config.data.forces_key = "REF_energy", "REF_forces"
    config.data.E0s = str(isolated_atoms_xyz) if given == "file" else ISOLATED_EV
    best = fit(config)
    metadata = read_checkpoint(best)["metadata"]
    assert metadata["E0s"]["eV"] == ISOLATED_EV
    assert metadata["E0s"]["isolated_atoms"]
    # The run's config holds the energies themselves, not this machine's file.
    import yaml

    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert recorded["data"]["E0s"] == ISOLATED_EV
    fit(load_resume_config(tmp_path / "run", ["train.max_epochs=3"]), resume=True)
    calculator = load_calculator(best)
    assert calculator.model.config.atom_reference
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a lone atom is outside the domain
        for symbol, energy in ISOLATED_EV.items():
            atom = Atoms(symbol, positions=[[0.0, 0.0, 0.0]])
            atom.calc = calculator
            assert atom.get_potential_energy() == pytest.approx(energy, abs=1e-9)


def test_e0s_must_cover_every_element(ref_keyed_xyz, tmp_path):
    config = tiny_run(tmp_path / "run", train_file=ref_keyed_xyz)
    config.data.energy_key, config.data.forces_key = "REF_energy", "REF_forces"
    config.data.E0s = {"H": -13.6, "C": -1029.4}
    with pytest.raises(ValueError, match="gives no energy for O"):
        fit(config)


@pytest.fixture(scope="module")
def energy_only_xyz(tmp_path_factory):
    """Energies only, as a scan or reaction-path file has them."""
    path = tmp_path_factory.mktemp("energy-only") / "scan.xyz"
    return write_ref_keyed(path, with_forces=False)


def test_energy_only_files_are_read_and_stored(energy_only_xyz, tmp_path):
    from mlpot.cli.data import main as data_main
    from mlpot.data import read_store

    frames = read_frames(energy_only_xyz, energy_key="REF_energy")
    assert frames.forces is None and len(frames) == 20
    store = tmp_path / "scan.h5"
    assert (
        data_main(
            ["convert", str(energy_only_xyz), str(store), "--energy-key", "REF_energy"]
        )
        == 0
    )
    stored = read_store(store)
    assert stored.forces is None
    np.testing.assert_allclose(stored.energy, frames.energy)


def test_frames_with_and_without_forces_in_one_file_are_refused(tmp_path):
    frames = read_frames(RMD17)
    images = [frames.to_atoms(k) for k in range(3)]
    images[1].calc = None
    images[1].info["energy"] = float(frames.energy[1])
    write(tmp_path / "mixed.xyz", images, format="extxyz")
    with pytest.raises(ValueError, match=r"frames \[1\] have no forces"):
        read_frames(tmp_path / "mixed.xyz")


def test_energy_only_training(energy_only_xyz, tmp_path):
    from mlpot.model.io import read_checkpoint

    config = tiny_run(
        tmp_path / "run",
        train_file=energy_only_xyz,
        max_epochs=2,
        forces_weight=0.0,
        monitor="energy_mae",
    )
    config.data.energy_key = "REF_energy"
    best = fit(config)
    val = read_checkpoint(best)["metadata"]["metrics"]["val"]
    assert np.isfinite(val["energy_mae_meV"]) and np.isnan(val["forces_mae_meV_per_A"])
    with pytest.raises(ValueError, match="set train.monitor: energy_mae"):
        tiny_run(tmp_path / "other", forces_weight=0.0)
    forces_wanted = tiny_run(tmp_path / "forces", train_file=energy_only_xyz)
    forces_wanted.data.energy_key = "REF_energy"
    with pytest.raises(ValueError, match="no forces labels.*forces_weight is 0"):
        fit(forces_wanted)


def test_energy_training_does_not_compute_forces(monkeypatch, tmp_path):
    from mlpot.train import epoch as epoch_module

    calls = []
    original = epoch_module.energy_and_forces

    def recording(*args, **kwargs):
        calls.append(kwargs.get("compute_forces", True))
        return original(*args, **kwargs)

    monkeypatch.setattr(epoch_module, "energy_and_forces", recording)
    fit(tiny_run(tmp_path / "run", max_epochs=1, forces_weight=0.0, monitor="loss"))
    assert calls and not any(calls)


def test_evaluating_an_energy_only_scan(energy_only_xyz, tmp_path, capsys):
    best = fit(tiny_run(tmp_path / "run", max_epochs=1))
    profile = tmp_path / "profile.png"
    args = [str(best), str(energy_only_xyz), "--energy-key", "REF_energy"]
    assert (
        eval_main(
            [*args, "--profile", str(profile), "--plot", str(tmp_path / "parity.png")]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "forces" not in out and "scan barrier: reference" in out
    assert profile.stat().st_size > 0
    from mlpot.train.report import evaluate_file

    report = evaluate_file(
        best, energy_only_xyz, energy_key="REF_energy", profile=tmp_path / "p.png"
    )
    frames = read_frames(energy_only_xyz, energy_key="REF_energy")
    barrier = 1e3 * (frames.energy.max() - frames.energy.min())
    assert report["profile"]["barrier_reference_meV"] == pytest.approx(barrier)
    assert not any(key.startswith("forces") for key in report["metrics"])


def write_tagged(path, cold_frames):
    """The rMD17 frames with config_type md_300K for the first ones, md_600K after."""
    frames = read_frames(RMD17)
    images = []
    for k in range(len(frames)):
        atoms = frames.to_atoms(k)
        atoms.info["config_type"] = "md_300K" if k < cold_frames else "md_600K"
        images.append(atoms)
    write(path, images, format="extxyz")
    return path


def test_errors_are_broken_down_by_config_type(tmp_path, capsys):
    from mlpot.data import read_store, write_store
    from mlpot.train.report import evaluate_file

    path = write_tagged(tmp_path / "tagged.xyz", cold_frames=12)
    tagged = read_frames(path)
    assert list(tagged.config_type) == ["md_300K"] * 12 + ["md_600K"] * 8
    store = write_store(tmp_path / "tagged.h5", tagged)
    assert list(read_store(store).config_type) == list(tagged.config_type)
    best = fit(tiny_run(tmp_path / "run", max_epochs=1))
    report = evaluate_file(best, path)
    groups = report["by_config_type"]
    assert {tag: g["n_frames"] for tag, g in groups.items()} == {
        "md_300K": 12,
        "md_600K": 8,
    }
    # The whole set's MAE is the frame-weighted mean of the groups'.
    whole = report["metrics"]["energy_mae_meV"]
    parts = sum(g["n_frames"] * g["energy_mae_meV"] for g in groups.values()) / 20
    assert whole == pytest.approx(parts, rel=1e-9)
    assert eval_main([str(best), str(path)]) == 0
    assert "md_600K" in capsys.readouterr().out


def test_the_user_path_end_to_end(
    ref_keyed_xyz, isolated_atoms_xyz, energy_only_xyz, tmp_path, capsys
):
    """Custom keys, isolated-atom E0s and an energy-only validation file in,
    an energy-only scan evaluated and a lone atom at its E0 out."""
    import warnings

    from ase import Atoms

    from mlpot.train.report import evaluate_file

    config = tiny_run(tmp_path / "run", train_file=ref_keyed_xyz, max_epochs=2)
    config.data.energy_key, config.data.forces_key = "REF_energy", "REF_forces"
    config.data.E0s = str(isolated_atoms_xyz)
    config.data.val = str(energy_only_xyz)
    config.data.n_train = None
    with pytest.raises(ValueError, match="leaves none for training after those"):
        fit(config)  # the validation file holds every training geometry
    frames = read_frames(energy_only_xyz, energy_key="REF_energy")
    images = [frames.to_atoms(k) for k in range(5)]
    for atoms in images:
        atoms.info["REF_energy"] = atoms.get_potential_energy()
        atoms.calc = None
    write(tmp_path / "val.xyz", images, format="extxyz")
    config.data.val = str(tmp_path / "val.xyz")
    with pytest.raises(ValueError, match="set train.monitor: energy_mae"):
        fit(config)
    config.train.monitor = "energy_mae"
    config.output = str(tmp_path / "run2")
    best = fit(config)
    report = evaluate_file(
        best, energy_only_xyz, energy_key="REF_energy", profile=tmp_path / "scan.png"
    )
    assert "barrier_error_meV" in report["profile"]
    calculator = load_calculator(best)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        atom = Atoms("O", positions=[[0.0, 0.0, 0.0]])
        atom.calc = calculator
        assert atom.get_potential_energy() == pytest.approx(ISOLATED_EV["O"], abs=1e-9)


def test_info_describes_energy_only_and_tagged_files(energy_only_xyz, tmp_path, capsys):
    from mlpot.cli.data import main as data_main

    assert data_main(["info", str(energy_only_xyz), "--energy-key", "REF_energy"]) == 0
    assert "energy-only data" in capsys.readouterr().out
    assert data_main(["info", str(write_tagged(tmp_path / "tagged.xyz", 5))]) == 0
    assert "md_300K x5, md_600K x15" in capsys.readouterr().out


def test_scan_profile_reports_each_frame_and_the_end_point(tmp_path, capsys):
    import ase.io

    best = fit(tiny_run(tmp_path / "run", max_epochs=1))
    frames = read_frames(RMD17)
    images = []
    for k in range(len(frames)):
        atoms = frames.to_atoms(k)
        atoms.info["REF_energy"] = float(frames.energy[k])
        atoms.info["dihedral_angle"] = 18.0 * k
        atoms.calc = None
        images.append(atoms)
    scan = tmp_path / "scan.xyz"
    ase.io.write(scan, images)
    args = [str(best), str(scan), "--energy-key", "REF_energy", "--profile"]
    args += [str(tmp_path / "p.png"), "--x", "dihedral_angle"]
    args += ["--json", str(tmp_path / "p.json")]
    assert eval_main(args) == 0
    out = capsys.readouterr().out
    assert "scan end point (last frame against the first): error" in out
    import json

    scan_record = json.loads((tmp_path / "p.json").read_text())["profile"]
    model = load_calculator(best)
    predicted = []
    for atoms in images:
        atoms.calc = model
        predicted.append(atoms.get_potential_energy())
    expected = 1e3 * (
        (predicted[-1] - predicted[0]) - (frames.energy[-1] - frames.energy[0])
    )
    assert scan_record["end_point_error_meV"] == pytest.approx(expected, abs=1e-6)
    rows = scan_record["frames"]
    assert [row["x"] for row in rows] == [18.0 * k for k in range(len(frames))]
    assert scan_record["x_label"] == "dihedral_angle"
    worst = max(rows, key=lambda row: abs(row["error_meV"]))
    assert scan_record["largest_error_meV"] == worst["error_meV"]
    assert eval_main([*args[:5], str(tmp_path / "q.png"), "--x", "missing"]) == 1
    assert "has no info key 'missing'" in capsys.readouterr().err
