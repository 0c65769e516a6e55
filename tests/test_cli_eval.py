"""``mlpot-eval`` on the command line."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mlpot import load_calculator, save_model
from mlpot.cli.evaluate import main
from mlpot.data import read_frames
from mlpot.data.files import sha256sum
from mlpot.model import ModelConfig, build_model

DATA = Path(__file__).parent / "data"
TEST_FILE = DATA / "rmd17_ethanol_test_01_subset.npz"
TRAIN_FILE = DATA / "rmd17_ethanol_train_01_subset.npz"


def save_tiny_model(path, species=(1, 6, 8), trained_on=TRAIN_FILE):
    config = ModelConfig(
        name="invariant", species=list(species), num_features=8, num_layers=1, r_max=4.0
    )
    model = build_model(config).double()
    frames = read_frames(TEST_FILE)
    model.set_normalisation(torch.full((len(species),), frames.energy.mean() / 9), 1.0)
    metadata = {"data": {"train": {"sha256": sha256sum(trained_on)}}}
    return save_model(model, path, metadata)


@pytest.fixture
def checkpoint(tmp_path):
    return save_tiny_model(tmp_path / "model.ckpt")


def reference_errors(checkpoint):
    """Errors computed frame by frame through the ASE calculator, in eV and eV/Å."""
    frames = read_frames(TEST_FILE)
    calculator = load_calculator(checkpoint)
    energy, forces = [], []
    for k in range(len(frames)):
        atoms = frames.to_atoms(k)
        atoms.calc = calculator
        energy.append(atoms.get_potential_energy() - frames.energy[k])
        forces.append(atoms.get_forces() - frames.forces[frames.atom_slice(k)])
    energy, forces = np.array(energy), np.concatenate(forces)
    return {
        "energy_mae_meV": 1000 * np.abs(energy).mean(),
        "energy_rmse_meV": 1000 * np.sqrt((energy**2).mean()),
        "energy_per_atom_mae_meV": 1000 * np.abs(energy / 9).mean(),
        "forces_mae_meV_per_A": 1000 * np.abs(forces).mean(),
        "forces_rmse_meV_per_A": 1000 * np.sqrt((forces**2).mean()),
    }


def test_errors_match_the_calculator_and_go_to_json(checkpoint, tmp_path, capsys):
    out = tmp_path / "errors.json"
    assert (
        main([str(checkpoint), str(TEST_FILE), "--json", str(out), "--batch-size", "7"])
        == 0
    )
    report = json.loads(out.read_text())
    expected = reference_errors(checkpoint)
    for name, value in expected.items():
        assert report["metrics"][name] == pytest.approx(value, rel=1e-6), name
    kcal = report["metrics"]["forces_mae_kcal_mol_per_A"]
    assert kcal == pytest.approx(expected["forces_mae_meV_per_A"] / 43.3641, rel=1e-5)
    assert report["data"]["sha256"] == sha256sum(TEST_FILE)
    assert (report["data"]["n_frames"], report["n_atoms"]) == (20, 180)
    assert report["in_training_file"] is False
    table = capsys.readouterr().out
    assert "20 frames, 180 atoms" in table
    for unit in ("meV ", "kcal/mol ", "meV/Å", "kcal/mol/Å"):
        assert unit in table
    assert f"{report['metrics']['forces_mae_meV_per_A']:.4g}" in table


def test_parity_plot_is_a_png(checkpoint, tmp_path):
    plot = tmp_path / "parity.png"
    assert main([str(checkpoint), str(TEST_FILE), "--plot", str(plot)]) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluating_on_the_training_file_is_flagged(checkpoint, capsys):
    assert main([str(checkpoint), str(TRAIN_FILE)]) == 0
    assert "the file the model was trained on" in capsys.readouterr().out


def test_unknown_elements_are_named(tmp_path, capsys):
    checkpoint = save_tiny_model(tmp_path / "ch.ckpt", species=(1, 6))
    assert main([str(checkpoint), str(TEST_FILE)]) == 1
    error = capsys.readouterr().err
    assert "mlpot-eval: error:" in error and "contains O" in error


def test_missing_checkpoint_is_explained(tmp_path, capsys):
    assert main([str(tmp_path / "none.ckpt"), str(TEST_FILE)]) == 1
    assert "not found" in capsys.readouterr().err


def test_per_frame_predictions_are_written_out(checkpoint, tmp_path, capsys):
    import ase.io

    out = tmp_path / "predicted.xyz"
    assert main([str(checkpoint), str(TEST_FILE), "--output", str(out)]) == 0
    images = ase.io.read(out, index=":")
    frames = read_frames(TEST_FILE)
    calculator = load_calculator(checkpoint)
    assert len(images) == len(frames) == 20
    for k in (0, 19):
        atoms = frames.to_atoms(k)
        atoms.calc = calculator
        image = images[k]
        assert image.info["MLPOT_energy"] == pytest.approx(
            atoms.get_potential_energy(), abs=1e-9
        )
        np.testing.assert_allclose(  # extended XYZ keeps 8 decimals
            image.arrays["MLPOT_forces"], atoms.get_forces(), atol=1e-8, rtol=0
        )
        assert image.info["REF_energy"] == pytest.approx(frames.energy[k])
        np.testing.assert_allclose(
            image.arrays["REF_forces"],
            frames.forces[frames.atom_slice(k)],
            atol=1e-8,
            rtol=0,
        )
    before = out.read_bytes()
    assert main([str(checkpoint), str(TEST_FILE), "--output", str(out)]) == 1
    assert "exists; name another file or pass --overwrite" in capsys.readouterr().err
    assert main([str(checkpoint), str(TEST_FILE), "--output", str(TEST_FILE)]) == 1
    assert "is an input of this command" in capsys.readouterr().err
    assert out.read_bytes() == before
