"""A run directory moved together with its data (e.g. in a repository copy) resumes."""

import shutil
from pathlib import Path

import yaml

from mlpot.cli.train import main

TRAIN_FILE = Path(__file__).parent / "data" / "rmd17_ethanol_train_01_subset.npz"


def test_moved_run_resumes(tmp_path, monkeypatch):
    first = tmp_path / "first"
    (first / "data").mkdir(parents=True)
    shutil.copy(TRAIN_FILE, first / "data" / "frames.npz")
    monkeypatch.chdir(first)
    Path("run.yaml").write_text(
        yaml.safe_dump(
            {
                "data": {"train": "data/frames.npz", "n_val": 5},
                "model": {"name": "invariant", "num_features": 8, "num_layers": 1},
                "train": {"batch_size": 5, "max_epochs": 1},
                "output": "runs/a",
            }
        )
    )
    assert main(["run.yaml", "--quiet"]) == 0
    stored = (first / "runs" / "a" / "config.yaml").read_text()
    assert str(tmp_path) not in stored

    moved = tmp_path / "moved"
    shutil.move(first, moved)
    monkeypatch.chdir(moved)
    assert main(["--resume", "runs/a", "--set", "train.max_epochs=2", "--quiet"]) == 0
    rows = (moved / "runs" / "a" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3  # header and both epochs
