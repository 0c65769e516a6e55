"""The equal-budget comparison's helpers: CPU budget, common scorer, split export."""

import importlib.util
import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.build import molecule
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

PEERS = Path(__file__).resolve().parents[1] / "benchmarks" / "peers"
SPIN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {}: pass"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"peers_{name}", PEERS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cpu_budget = _load("cpu_budget")
score = _load("score")


def test_budget_interrupts_a_command_once_its_cpu_time_is_spent():
    command = [sys.executable, "-c", SPIN.format(60)]
    result = cpu_budget.run_with_budget(command, cpu_s=1.0, poll_s=0.1, grace_s=10)
    assert result["stopped_because"] == "budget"
    assert result["returncode"] != 0
    assert 1.0 <= result["cpu_s"] <= result["cpu_s_at_exit"] < 5.0


def test_budget_interrupts_a_command_started_with_sigint_ignored():
    import signal

    command = [sys.executable, "-c", SPIN.format(60)]
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        result = cpu_budget.run_with_budget(command, cpu_s=1.0, poll_s=0.1, grace_s=30)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert result["stopped_because"] == "budget"
    assert result["wall_s"] < 20
    assert result["cpu_s_at_exit"] < 3.0


def test_budget_counts_the_cpu_time_of_child_processes():
    spin = SPIN.format(60)
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {spin!r}])"
    result = cpu_budget.run_with_budget(
        [sys.executable, "-c", child], cpu_s=1.0, poll_s=0.1, grace_s=10
    )
    assert result["stopped_because"] == "budget"
    assert result["wall_s"] < 30


def test_a_command_that_ends_inside_its_budget_keeps_its_exit_status():
    result = cpu_budget.run_with_budget(
        [sys.executable, "-c", "raise SystemExit(3)"], cpu_s=60, poll_s=0.1
    )
    assert result == {**result, "stopped_because": "exited", "returncode": 3}
    assert result["cpu_s"] < 60


def test_budget_refuses_to_spend_a_recorded_budget_again(tmp_path, capsys):
    record = tmp_path / "budget.json"
    record.write_text("{}")
    with pytest.raises(SystemExit):
        cpu_budget.main(["--cpu-hours", "1", "--record", str(record), "--", "true"])
    assert "has been spent" in capsys.readouterr().err


class _Shifted(Calculator):
    """EMT with every energy raised by 2 meV and every force component by 3 meV/Å."""

    implemented_properties = ["energy", "forces"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        reference = atoms.copy()
        reference.calc = EMT()
        self.results = {
            "energy": reference.get_potential_energy() + 2e-3,
            "forces": reference.get_forces() + 3e-3,
        }


def _labelled_frames(tmp_path):
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(4):
        atoms = molecule("CH3CH2OH")
        atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
        atoms.calc = EMT()
        labels = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces()}
        atoms.calc = SinglePointCalculator(atoms, **labels)
        frames.append(atoms)
    path = tmp_path / "test.xyz"
    ase.io.write(path, frames, format="extxyz")
    return ase.io.read(path, index=":")


def test_scorer_gives_the_known_errors_of_a_shifted_calculator(tmp_path):
    frames = _labelled_frames(tmp_path)
    assert score.errors(EMT(), frames)["forces_mae_meV_per_A"] < 1e-3
    errors = score.errors(_Shifted(), frames)
    assert errors["frames"] == 4
    assert errors["energy_mae_meV"] == pytest.approx(2.0, abs=1e-3)
    assert errors["energy_mean_error_meV"] == pytest.approx(2.0, abs=1e-3)
    assert errors["forces_mae_meV_per_A"] == pytest.approx(3.0, abs=1e-3)
    assert errors["forces_rmse_meV_per_A"] == pytest.approx(3.0, abs=1e-3)


def test_scorer_loads_mlpot_checkpoints_as_ase_calculators(tmp_path):
    from mlpot.calculator import MLPotCalculator

    checkpoint = (
        Path(__file__).resolve().parents[1] / "models" / "ethanol-equivariant.ckpt"
    )
    calc = score.calculator("mlpot", str(checkpoint), ["C", "H", "O"])
    assert isinstance(calc, MLPotCalculator)
    with pytest.raises(ValueError, match="unknown kind"):
        score.calculator("schnet", str(checkpoint), ["C"])


def test_export_writes_the_frames_mlpot_train_draws_in_ev(tmp_path):
    from mlpot.data import read_frames
    from mlpot.train import load_config
    from mlpot.train.data import load_run_data

    data = Path(__file__).resolve().parent / "data"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "data:\n"
        f"  train: {data / 'rmd17_ethanol_train_01_subset.npz'}\n"
        f"  test: {data / 'rmd17_ethanol_test_01_subset.npz'}\n"
        "  n_train: 12\n  n_val: 4\n  energy_unit: kcal/mol\n"
        "model:\n  name: invariant\n"
        f"output: {tmp_path / 'run'}\n"
    )
    _load("export_split").main([str(recipe), str(tmp_path / "out")])
    config = load_config(recipe)
    expected = load_run_data(config.data, seed=config.train.seed)
    for name, frames in (("train", expected.train), ("val", expected.val)):
        written = read_frames(tmp_path / "out" / f"{name}.xyz")
        assert len(written) == len(frames)
        np.testing.assert_allclose(written.energy, frames.energy, rtol=1e-9)
        np.testing.assert_allclose(written.forces, frames.forces, atol=1e-6)
    kcal = read_frames(
        data / "rmd17_ethanol_test_01_subset.npz", energy_unit="kcal/mol"
    )
    test = read_frames(tmp_path / "out" / "test.xyz")
    np.testing.assert_allclose(test.energy, kcal.energy, rtol=1e-9)
