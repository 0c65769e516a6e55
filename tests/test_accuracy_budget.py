"""The equal-budget protocol's summary of a finished candidate run."""

import importlib.util
from pathlib import Path

import pytest
import yaml
from tiny_training import train_tiny_on_ethanol

from mlpot.train.config import TrainConfig

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


accuracy_budget = _load("accuracy_budget")


@pytest.fixture
def finished_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return train_tiny_on_ethanol("runs/candidate").parent


def test_summary_records_the_settings_the_run_used(finished_run):
    summary = accuracy_budget.summarise(
        finished_run, "candidate", Path("recipe.yaml"), ["train.max_epochs=2"]
    )
    written = yaml.safe_load(Path("recipe.yaml").read_text())["train"]
    assert summary["train"]["max_epochs"] == written["max_epochs"] == 2
    assert summary["train"]["batch_size"] == written["batch_size"]
    # A default, which the file omits, is recorded too.
    assert summary["train"]["loss"] == TrainConfig().loss
    assert "quiet" not in summary["train"]
    assert summary["epochs"] == 2 and summary["test"]["forces_mae_meV_per_A"] > 0
    curve = summary["curve"]
    assert curve["epoch"] == [1, 2]
    assert len(curve["cpu_h"]) == len(curve["val_forces_mae_meV_per_A"]) == 2
    assert 0 <= curve["cpu_h"][0] <= curve["cpu_h"][1]  # hours, 4 decimals
    row = accuracy_budget.candidates_table([summary]).splitlines()[-1]
    assert row.startswith("| recipe | candidate | `train.max_epochs=2` |")
    per_epoch = row.split("|")[7].strip()
    assert per_epoch == f"{summary['budget_cpu_s'] / 2:.1f}"
