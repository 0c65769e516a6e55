"""Data-parallel training: 2 CPU processes (gloo) give the weights of one process."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from mlpot.cli.train import main
from mlpot.model.io import read_checkpoint

TRAIN_FILE = Path(__file__).parent / "data" / "rmd17_ethanol_train_01_subset.npz"


def write_config(folder: Path, output: str, family: str, train: dict) -> Path:
    path = folder / f"{output}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                # 16 training frames in batches of 5: the last batch has one
                # structure, so one worker has nothing to do in that step.
                "data": {"train": str(TRAIN_FILE), "n_train": 16, "n_val": 4},
                "model": {"name": family, "num_features": 4, "num_layers": 2},
                "train": {
                    "batch_size": 5,
                    "max_epochs": 2,
                    "lr": 0.01,
                    "seed": 3,
                    **train,
                },
                "output": str(folder / output),
            }
        )
    )
    return path


@pytest.mark.parametrize(
    "family, train",
    [
        ("equivariant", {}),
        ("invariant", {}),
        ("equivariant", {"forces_weight": 0.0, "monitor": "energy_mae"}),
    ],
    ids=["equivariant", "invariant", "equivariant-energy-only"],
)
def test_two_processes_match_one(tmp_path, family, train):
    single = write_config(tmp_path, "single", family, train)
    assert main([str(single), "--quiet"]) == 0
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "mlpot.cli.train",
        str(write_config(tmp_path, "parallel", family, train)),
        "--quiet",
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]
    single = read_checkpoint(tmp_path / "single" / "last.ckpt")
    parallel = read_checkpoint(tmp_path / "parallel" / "last.ckpt")
    for name, value in single["state_dict"].items():
        torch.testing.assert_close(
            parallel["state_dict"][name], value, rtol=0, atol=1e-9
        )
    single_metrics = single["metadata"]["metrics"]["val"]
    parallel_metrics = parallel["metadata"]["metrics"]["val"]
    assert parallel_metrics == pytest.approx(single_metrics, rel=1e-6)
    rows = (tmp_path / "parallel" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3  # header and two epochs, written once
