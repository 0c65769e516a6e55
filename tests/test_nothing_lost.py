"""Nothing a user has is lost: resumes that would start over, concurrent runs,
converts over existing files, and temporary files of killed writes."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_train_loop import tiny_run

from mlpot.calculator import MLPotCalculator
from mlpot.cli.data import main as data_main
from mlpot.data import read_frames, read_store
from mlpot.dtypes import as_torch_dtype
from mlpot.fileio import LockHeldError, atomic_path, exclusive_lock
from mlpot.model.io import read_checkpoint
from mlpot.train import fit, load_resume_config

DATA = Path(__file__).parent / "data"
XYZ = DATA / "ethanol_reduced_10.xyz"
RMD17 = DATA / "rmd17_ethanol_train_01_subset.npz"


@pytest.fixture(scope="module")
def two_epoch_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "run"
    fit(tiny_run(run_dir, max_epochs=2))
    return run_dir


def test_resume_without_state_refuses_and_keeps_checkpoints(two_epoch_run, tmp_path):
    run_dir = tmp_path / "copy"
    run_dir.mkdir()
    for name in ("config.yaml", "best.ckpt", "last.ckpt", "metrics.csv"):
        (run_dir / name).write_bytes((two_epoch_run / name).read_bytes())
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    with pytest.raises(FileNotFoundError, match="last.state' is missing"):
        fit(load_resume_config(run_dir, []), resume=True)
    for name, content in before.items():
        assert (run_dir / name).read_bytes() == content, name


def test_resume_of_a_run_killed_in_its_first_epochs_records_starts_it(tmp_path):
    # Killed after best.ckpt and the metrics row of epoch 1, before last.state.
    run_dir = tmp_path / "run"
    fit(tiny_run(run_dir, max_epochs=1))
    (run_dir / "last.state").unlink()
    best = fit(load_resume_config(run_dir, ["train.max_epochs=2"]), resume=True)
    assert read_checkpoint(best)["metadata"]["epochs_run"] == 2


def test_resume_of_a_run_killed_before_its_first_epoch_starts_it(tmp_path):
    run_dir = tmp_path / "run"
    fit(tiny_run(run_dir, max_epochs=1))
    for name in ("best.ckpt", "last.ckpt", "metrics.csv", "last.state"):
        (run_dir / name).unlink()
    best = fit(load_resume_config(run_dir, []), resume=True)
    assert best.is_file()


def test_second_run_into_a_locked_directory_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    with exclusive_lock(run_dir / "run.lock", "the run"):
        code = (
            "import sys; sys.path.insert(0, sys.argv[2]);"
            "from test_train_loop import tiny_run; from mlpot.train import fit;"
            "fit(tiny_run(sys.argv[1]))"
        )
        result = subprocess.run(
            [sys.executable, "-c", code, str(run_dir), str(Path(__file__).parent)],
            capture_output=True,
            text=True,
        )
    assert result.returncode != 0
    assert f"in use by another process (pid {os.getpid()}" in result.stderr
    assert not (run_dir / "config.yaml").exists()


def test_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    lock = tmp_path / "run.lock"
    lock.write_text(dead)
    with exclusive_lock(lock, "the run") as note:
        assert note is not None and dead in note
        assert lock.read_text() == str(os.getpid())
        with pytest.raises(LockHeldError):
            # A second open file description conflicts even in one process.
            with exclusive_lock(lock, "the run"):
                pass


def test_convert_refuses_to_replace_an_existing_store(tmp_path, capsys):
    store = tmp_path / "ethanol.h5"
    assert data_main(["convert", str(RMD17), str(store)]) == 0
    kept = len(read_store(store))
    assert (
        data_main(["convert", str(XYZ), str(store), "--energy-unit", "kcal/mol"]) == 1
    )
    err = capsys.readouterr().err
    assert "exists" in err and "--overwrite" in err and "--append" in err
    assert len(read_store(store)) == kept
    args = ["convert", str(XYZ), str(store), "--energy-unit", "kcal/mol"]
    assert data_main(args + ["--overwrite"]) == 0
    assert len(read_store(store)) == 10


def test_convert_writes_the_format_its_suffix_names(tmp_path):
    out = tmp_path / "ethanol.xyz"
    assert data_main(["convert", str(RMD17), str(out)]) == 0
    original, written = read_frames(RMD17), read_frames(out)
    assert out.read_text().split("\n", 1)[0].strip() == "9"  # extended XYZ, not HDF5
    np.testing.assert_allclose(written.energy, original.energy, rtol=1e-9)
    np.testing.assert_allclose(written.forces, original.forces, rtol=0, atol=1e-7)


def test_convert_onto_a_directory_is_a_clear_error(tmp_path, capsys):
    assert data_main(["convert", str(RMD17), str(tmp_path)]) == 1
    assert "is a directory" in capsys.readouterr().err


def test_temporaries_of_killed_writes_are_removed(tmp_path):
    target = tmp_path / "data.bin"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    leftover = tmp_path / f".data.bin.{dead}.tmp"
    leftover.write_bytes(b"half")
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and not leftover.exists()


@pytest.mark.parametrize(
    "dtype", [torch.float16, torch.bfloat16, torch.int64, "float16", "double"]
)
def test_only_float32_and_float64_are_accepted(dtype):
    with pytest.raises(ValueError, match="dtype must be 'float64' or 'float32'"):
        as_torch_dtype(dtype)


def test_calculator_refuses_half_precision():
    from mlpot.model import ModelConfig, build_model

    model = build_model(ModelConfig(species=[1, 6, 8], r_max=4.0, num_layers=1))
    with pytest.raises(ValueError, match="float64"):
        MLPotCalculator(model, dtype=torch.float16)


def test_edited_config_is_refused_on_resume(two_epoch_run, tmp_path):
    import shutil

    run_dir = tmp_path / "edited"
    shutil.copytree(two_epoch_run, run_dir)
    (run_dir / "run.lock").unlink(missing_ok=True)
    config = (run_dir / "config.yaml").read_text()
    assert "lr: 0.01" in config
    (run_dir / "config.yaml").write_text(config.replace("lr: 0.01", "lr: 0.5"))
    with pytest.raises(ValueError, match=r"train.lr: 0.01 → 0.5"):
        fit(load_resume_config(run_dir, ["train.max_epochs=3"]), resume=True)
    # Changing the shapes of the layers is refused the same way, before loading.
    (run_dir / "config.yaml").write_text(
        config.replace("num_features: 8", "num_features: 16")
    )
    with pytest.raises(ValueError, match="num_features"):
        fit(load_resume_config(run_dir, ["train.max_epochs=3"]), resume=True)


def test_malformed_progress_in_the_state_is_a_clear_error(two_epoch_run, tmp_path):
    import shutil

    run_dir = tmp_path / "damaged"
    shutil.copytree(two_epoch_run, run_dir)
    state = torch.load(run_dir / "last.state", weights_only=True)
    state["progress"]["epochs"] = state["progress"].pop("epoch")
    torch.save(state, run_dir / "last.state")
    with pytest.raises(ValueError, match="damaged or from another run"):
        fit(load_resume_config(run_dir, ["train.max_epochs=3"]), resume=True)


def test_species_absent_from_the_data_are_refused(tmp_path):
    config = tiny_run(tmp_path / "run")
    config.model["species"] = [1, 6, 8, 26]
    with pytest.raises(ValueError, match=r"atomic numbers \[26\] that no training"):
        fit(config)


def test_calculator_warns_once_outside_the_training_domain(two_epoch_run):
    import warnings

    from mlpot.calculator import load_calculator
    from mlpot.domain import OutOfDomainWarning

    calculator = load_calculator(two_epoch_run / "best.ckpt")
    domain = calculator.model.metadata["domain"]
    assert domain["formulas"] == ["C2H6O"] and 0.8 < domain["min_distance_A"] < 1.2
    atoms = read_frames(RMD17).to_atoms(0)
    atoms.calc = calculator
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        atoms.get_forces()  # a training-like frame: no warning
    squeezed = atoms.copy()
    squeezed.positions[1] = squeezed.positions[0] + [0.05, 0.0, 0.0]
    squeezed.calc = calculator
    with pytest.warns(OutOfDomainWarning, match="0.050 Å apart"):
        squeezed.get_potential_energy()
    squeezed.positions[1] += [0.01, 0.0, 0.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once already
        squeezed.get_potential_energy()
    from ase.build import molecule

    water = molecule("H2O")
    water.calc = calculator
    with pytest.warns(OutOfDomainWarning, match="H2O, a composition"):
        water.get_potential_energy()


def _frames_of(path=RMD17):
    return read_frames(path)


def test_stores_get_the_finite_and_unit_checks(tmp_path):
    from mlpot.data import write_store
    from mlpot.data.checks import UnitConsistencyError

    frames = _frames_of()
    scaled = frames.subset(np.arange(len(frames)))
    scaled.energy = scaled.energy * 23.06
    write_store(tmp_path / "scaled.h5", scaled)
    with pytest.raises(UnitConsistencyError, match="too large"):
        read_frames(tmp_path / "scaled.h5")
    import h5py

    write_store(tmp_path / "nan.h5", frames)
    with h5py.File(tmp_path / "nan.h5", "r+") as store:
        store["energy"][3] = np.nan
    with pytest.raises(ValueError, match="energies of 1 frame.*NaN"):
        read_frames(tmp_path / "nan.h5")


def test_relative_kcal_energies_read_as_ev_are_caught_by_the_forces(tmp_path):
    from ase.io import write

    from mlpot.data.checks import UnitConsistencyError

    frames = _frames_of()
    images = []
    for k in range(len(frames)):
        atoms = frames.to_atoms(k)
        kcal = 23.0605
        energy = (frames.energy[k] - frames.energy.mean()) * kcal
        forces = atoms.get_forces() * kcal
        atoms.calc = None
        atoms.info["energy"], atoms.arrays["forces"] = energy, forces
        images.append(atoms)
    write(tmp_path / "relative.xyz", images, format="extxyz")
    with pytest.raises(UnitConsistencyError, match="forces .* too large"):
        read_frames(tmp_path / "relative.xyz")
    assert len(read_frames(tmp_path / "relative.xyz", energy_unit="kcal/mol")) == 20


def test_duplicates_with_conflicting_labels_are_refused(tmp_path):
    from mlpot.data import write_store

    frames = _frames_of()
    index = np.concatenate([np.arange(len(frames)), [4]])
    doubled = frames.subset(index)
    doubled.frame_ids = np.arange(len(doubled))
    doubled.energy[-1] += 0.5
    write_store(tmp_path / "dup.h5", doubled)
    config = tiny_run(tmp_path / "run", train_file=tmp_path / "dup.h5")
    with pytest.raises(ValueError, match="1 frame.*repeat the geometry.*4/20"):
        fit(config)


def test_settings_added_by_a_newer_mlpot_do_not_block_a_resume():
    from mlpot.train.config_files import config_changes

    before = {"train": {"lr": 0.01}, "model": {"name": "equivariant"}}
    after = {
        "train": {"lr": 0.01, "warmup_epochs": 0},
        "model": {"name": "equivariant"},
    }
    assert config_changes(before, after) == []
    assert config_changes(before, {**after, "train": {"lr": 0.02}}) == [
        "train.lr: 0.01 → 0.02"
    ]


def test_a_far_worse_structure_warns_again_and_batches_warn_too(two_epoch_run):
    import warnings

    from mlpot.calculator import load_calculator
    from mlpot.domain import OutOfDomainWarning

    calculator = load_calculator(two_epoch_run / "best.ckpt")
    closest = calculator.model.metadata["domain"]["min_distance_A"]
    atoms = read_frames(RMD17).to_atoms(0)

    def with_pair_at(distance):
        moved = atoms.copy()
        direction = moved.positions[1] - moved.positions[0]
        moved.positions[1] = (
            moved.positions[0] + direction / np.linalg.norm(direction) * distance
        )
        return moved

    at_rounding = with_pair_at(closest - 5e-4)
    at_rounding.calc = calculator
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # within rounding of the training data
        at_rounding.get_forces()
    for distance in (0.5, 0.05):  # the second is far worse: a second warning
        squeezed = with_pair_at(distance)
        squeezed.calc = calculator
        with pytest.warns(OutOfDomainWarning, match=f"{distance:.3f} Å apart"):
            squeezed.get_forces()
    fresh = load_calculator(two_epoch_run / "best.ckpt")
    with pytest.warns(OutOfDomainWarning, match="0.300 Å apart"):
        fresh.calculate_many([atoms, with_pair_at(0.3)])
