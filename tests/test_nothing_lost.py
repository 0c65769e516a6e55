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
