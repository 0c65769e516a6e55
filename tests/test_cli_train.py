"""``mlpot-train`` on the command line."""

import csv
from pathlib import Path

import pytest
import yaml

from mlpot.cli.train import main
from mlpot.model.io import read_checkpoint

TRAIN_FILE = Path(__file__).parent / "data" / "rmd17_ethanol_train_01_subset.npz"


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    """A tiny invariant run on 20 frames, paths relative to the current directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "frames.npz").write_bytes(TRAIN_FILE.read_bytes())
    path = tmp_path / "run.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "data": {"train": "frames.npz", "n_train": 15, "n_val": 5},
                "model": {
                    "name": "invariant",
                    "num_features": 8,
                    "num_layers": 1,
                    "r_max": 4.0,
                    "num_basis": 4,
                },
                "train": {"batch_size": 5, "max_epochs": 2, "lr": 0.01},
                "output": "runs/a",
            }
        )
    )
    return path


def epochs_in(run_dir):
    with open(Path(run_dir) / "metrics.csv", newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def test_two_epoch_run_on_20_frames(config_file, capsys):
    assert main([str(config_file), "--quiet"]) == 0
    run_dir = config_file.parent / "runs" / "a"
    assert epochs_in(run_dir) == [1, 2]
    metadata = read_checkpoint(run_dir / "best.ckpt")["metadata"]
    assert metadata["command"] == ["mlpot-train", str(config_file), "--quiet"]
    assert metadata["data"]["train"]["file"] == "frames.npz"
    assert capsys.readouterr().out == ""


def test_summary_and_progress_when_not_quiet(config_file, capsys):
    assert main([str(config_file), "--set", "train.max_epochs=1"]) == 0
    captured = capsys.readouterr()
    assert "best checkpoint: " in captured.out
    assert "val: energy MAE" in captured.out
    assert "(eV; a least-squares fit on the training compositions)" in captured.err
    assert (
        "loss: Huber (δ 0.01 eV/Å, eV of energy per atom); "
        "weights energy per atom 1, forces 100"
    ) in captured.err
    assert "mlpot-train" in captured.err  # the progress bar


def test_overrides_and_resume(config_file):
    assert (
        main(
            [
                str(config_file),
                "--quiet",
                "--set",
                "output=runs/b",
                "train.max_epochs=1",
            ]
        )
        == 0
    )
    assert epochs_in("runs/b") == [1]
    assert main(["--resume", "runs/b", "--quiet", "--set", "train.max_epochs=2"]) == 0
    assert epochs_in("runs/b") == [1, 2]


def test_unknown_key_suggests_the_closest(config_file, capsys):
    assert main([str(config_file), "--set", "train.max_epoch=3"]) == 1
    error = capsys.readouterr().err
    assert "unknown config key 'train.max_epoch'" in error
    assert "Did you mean 'train.max_epochs'?" in error
    assert not Path("runs/a").exists()


def test_resume_refuses_other_changes(config_file, capsys):
    assert main([str(config_file), "--quiet", "--set", "train.max_epochs=1"]) == 0
    assert main(["--resume", "runs/a", "--set", "train.lr=1.0"]) == 1
    assert "cannot change when resuming" in capsys.readouterr().err


def test_existing_run_directory_points_to_resume(config_file, capsys):
    assert main([str(config_file), "--quiet", "--set", "train.max_epochs=1"]) == 0
    assert main([str(config_file), "--quiet"]) == 1
    assert "mlpot-train --resume runs/a" in capsys.readouterr().err


def test_config_or_resume_is_required(capsys):
    with pytest.raises(SystemExit) as exit:
        main([])
    assert exit.value.code == 2
    assert "either CONFIG.yaml or --resume" in capsys.readouterr().err


def test_a_run_folder_in_use_is_refused_without_a_traceback(config_file, capsys):
    from mlpot.fileio import exclusive_lock

    with exclusive_lock("runs/a/run.lock", "the run in 'runs/a'"):
        assert main([str(config_file), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "mlpot-train: error: the run directory 'runs/a' is in use by another" in err
    assert "Traceback" not in err
