"""The training loop: run directory, checkpoints, stopping, and bit-identical resume."""

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import mlpot
from mlpot.data.files import sha256sum
from mlpot.model.io import read_checkpoint
from mlpot.train import RunConfig, fit, load_resume_config
from mlpot.train import epoch as training_epoch
from mlpot.train import loop as training_loop
from mlpot.train.config import TrainConfig
from mlpot.train.state import Progress

DATA = Path(__file__).parent / "data"
TRAIN_FILE = DATA / "rmd17_ethanol_train_01_subset.npz"
TEST_FILE = DATA / "rmd17_ethanol_test_01_subset.npz"
TINY_MODELS = {
    "invariant": {"name": "invariant", "num_features": 8, "num_layers": 1},
    "equivariant": {
        "name": "equivariant",
        "num_features": 4,
        "num_layers": 1,
        "lmax": 1,
    },
}
TIME_COLUMNS = ("epoch_s", "elapsed_s", "cpu_s")


def tiny_run(output, model="invariant", train_file=TRAIN_FILE, **train):
    """15 training and 5 validation frames of ethanol, 3 batches per epoch."""
    settings = {"batch_size": 5, "max_epochs": 4, "quiet": True, "lr": 0.01, **train}
    return RunConfig.from_dict(
        {
            "data": {"train": str(train_file), "n_train": 15, "n_val": 5},
            "model": {**TINY_MODELS[model], "r_max": 4.0, "num_basis": 4},
            "train": settings,
            "output": str(output),
        }
    )


def metric_rows(run_dir):
    with open(Path(run_dir) / "metrics.csv", newline="") as handle:
        return [
            {k: v for k, v in row.items() if k not in TIME_COLUMNS}
            for row in csv.DictReader(handle)
        ]


def assert_same_state_dict(first, second):
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


def assert_same_run(first_dir, second_dir):
    """Same final weights (raw and averaged), optimiser, metrics, best checkpoint."""
    first = torch.load(first_dir / "last.state", weights_only=True)
    second = torch.load(second_dir / "last.state", weights_only=True)
    assert_same_state_dict(first["model"], second["model"])
    assert_same_state_dict(first["average"]["model"], second["average"]["model"])
    assert first["optimizer"]["state"][0]["exp_avg"].equal(
        second["optimizer"]["state"][0]["exp_avg"]
    )
    assert metric_rows(first_dir) == metric_rows(second_dir)
    best_first = read_checkpoint(first_dir / "best.ckpt")
    best_second = read_checkpoint(second_dir / "best.ckpt")
    assert_same_state_dict(best_first["state_dict"], best_second["state_dict"])
    assert best_first["metadata"]["metrics"] == best_second["metadata"]["metrics"]
    assert best_first["metadata"]["best_epoch"] == best_second["metadata"]["best_epoch"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A 3-epoch run with a test file, shared by the tests that only read it."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    config = tiny_run(run_dir, max_epochs=3)
    config.data.test = str(TEST_FILE)
    best = fit(config, command=["mlpot-train", "run.yaml"])
    return run_dir, best


def test_run_directory_holds_config_checkpoints_metrics_and_log(finished_run):
    run_dir, best = finished_run
    assert best == run_dir / "best.ckpt"
    for name in ("config.yaml", "best.ckpt", "last.ckpt", "last.state", "train.log"):
        assert (run_dir / name).is_file(), name
    rows = metric_rows(run_dir)
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    for column in (
        "lr",
        "train_loss",
        "val_energy_mae_meV",
        "val_forces_rmse_meV_per_A",
    ):
        assert all(float(row[column]) > 0 for row in rows), column
    assert "stopped (max_epochs) after 3 epochs" in (run_dir / "train.log").read_text()
    assert not list(run_dir.glob("*.tmp")) and not list(run_dir.glob(".*"))


def test_resolved_config_has_species_and_neighbour_count(finished_run):
    run_dir, _ = finished_run
    config = load_resume_config(run_dir)
    assert config.model["species"] == [1, 6, 8]
    assert 1.0 < config.model["avg_num_neighbors"] < 8.0
    assert Path(config.data.train).is_absolute()


def test_checkpoint_records_data_split_and_final_metrics(finished_run):
    run_dir, best = finished_run
    metadata = read_checkpoint(best)["metadata"]
    assert metadata["data"]["train"]["sha256"] == sha256sum(TRAIN_FILE)
    assert metadata["data"]["test"]["sha256"] == sha256sum(TEST_FILE)
    assert metadata["data"]["train"]["energy_unit"] == "kcal/mol"
    assert "PBE" in metadata["data"]["train"]["level_of_theory"]
    split = metadata["split"]
    assert (split["n_train"], split["n_val"]) == (15, 5)
    assert sorted(split["train"] + split["val"]) == list(range(20))
    assert set(metadata["metrics"]) == {"val", "test"}
    for errors in metadata["metrics"].values():
        assert errors["forces_mae_meV_per_A"] > 0
        assert errors["energy_rmse_meV"] >= errors["energy_mae_meV"]
    assert metadata["stopped_because"] == "max_epochs"
    assert metadata["epochs_run"] == 3
    assert 1 <= metadata["best_epoch"] <= 3
    assert metadata["training_time_s"] > 0
    assert metadata["machine"]["torch_threads"] >= 1
    assert metadata["command"] == ["mlpot-train", "run.yaml"]
    assert metadata["config"]["train"]["max_epochs"] == 3


def test_final_val_metrics_are_those_of_the_best_epoch(finished_run):
    run_dir, best = finished_run
    metadata = read_checkpoint(best)["metadata"]
    row = metric_rows(run_dir)[metadata["best_epoch"] - 1]
    val = metadata["metrics"]["val"]
    for name in ("energy_mae_meV", "forces_mae_meV_per_A", "loss"):
        assert val[name] == float(row[f"val_{name}"]), name


def test_checkpoints_load_as_models_and_calculators(finished_run):
    run_dir, best = finished_run
    frames = mlpot.data.read_frames(TEST_FILE)
    atoms = frames.to_atoms(0)
    model = mlpot.load_model(best)
    assert model.config.species == [1, 6, 8]
    shift = read_checkpoint(best)["metadata"]["normalisation"]["atomic_energy_shift_eV"]
    np.testing.assert_allclose(model.atomic_energy_shift.numpy(), shift)
    for path in (best, run_dir / "last.ckpt"):
        atoms.calc = mlpot.load_calculator(path)
        energy = atoms.get_potential_energy()
        assert abs(energy - frames.energy[0]) < 50.0  # eV; shifted to the data's scale
        assert atoms.get_forces().shape == (9, 3)


def test_resume_after_max_epochs_matches_an_uninterrupted_run(tmp_path):
    # a schedule that does not depend on max_epochs (budget_cosine stretches)
    fit(tiny_run(tmp_path / "straight", max_epochs=4, scheduler="plateau"))
    fit(tiny_run(tmp_path / "resumed", max_epochs=2, scheduler="plateau"))
    assert len(metric_rows(tmp_path / "resumed")) == 2
    config = load_resume_config(tmp_path / "resumed", ["train.max_epochs=4"])
    fit(config, resume=True)
    assert_same_run(tmp_path / "straight", tmp_path / "resumed")


def test_resume_after_an_interrupted_epoch_matches_an_uninterrupted_run(
    tmp_path, monkeypatch
):
    fit(tiny_run(tmp_path / "straight", model="equivariant"))
    step = training_epoch.train_step
    calls = []

    def interrupted_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 8:  # the second of three batches of epoch 3
            raise KeyboardInterrupt
        return step(*args, **kwargs)

    monkeypatch.setattr(training_epoch, "train_step", interrupted_step)
    with pytest.raises(KeyboardInterrupt):
        fit(tiny_run(tmp_path / "resumed", model="equivariant"))
    monkeypatch.undo()
    assert torch.load(tmp_path / "resumed" / "last.state")["progress"]["epoch"] == 2
    assert "interrupted" in (tmp_path / "resumed" / "train.log").read_text()
    fit(load_resume_config(tmp_path / "resumed"), resume=True)
    assert_same_run(tmp_path / "straight", tmp_path / "resumed")


def test_resumed_cosine_schedule_stretches_to_the_new_max_epochs(tmp_path):
    run_dir = tmp_path / "run"
    fit(tiny_run(run_dir, max_epochs=2, scheduler="cosine", lr=0.01, min_lr=0.001))
    fit(load_resume_config(run_dir, ["train.max_epochs=4"]), resume=True)
    rates = [float(row["lr"]) for row in metric_rows(run_dir)]
    # Epochs 1-2 followed the 2-epoch schedule, epochs 3-4 follow the 4-epoch one.
    assert rates[:2] == pytest.approx([0.01, 0.0055])
    assert rates[2:] == pytest.approx(
        [0.0055, 0.001 + 0.009 * 0.5 * (1 + np.cos(0.75 * np.pi))]
    )


def test_rows_written_after_the_saved_state_are_dropped_on_resume(tmp_path):
    run_dir = tmp_path / "run"
    fit(tiny_run(run_dir, max_epochs=2))
    # As if the run had been killed after writing row 3 but before its state.
    with open(run_dir / "metrics.csv", "a") as handle:
        handle.write("3" + ",1.0" * (len(metric_rows(run_dir)[0]) + 1) + "\n")
    fit(load_resume_config(run_dir, ["train.max_epochs=3"]), resume=True)
    rows = metric_rows(run_dir)
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert rows[2]["lr"] != "1.0"


def test_time_budget_stops_after_the_epoch_that_crosses_it(tmp_path):
    run_dir = tmp_path / "run"
    best = fit(tiny_run(run_dir, max_time=1e-6, dtype="float32"))
    metadata = read_checkpoint(best)["metadata"]
    assert metadata["stopped_because"] == "max_time"
    assert len(metric_rows(run_dir)) == 1
    assert (
        read_checkpoint(best)["state_dict"]["readout.0.weight"].dtype == torch.float32
    )
    # The budget counts across resumes: a larger one lets the run go on.
    fit(
        load_resume_config(run_dir, ["train.max_time=1000", "train.max_epochs=2"]), True
    )
    assert len(metric_rows(run_dir)) == 2


@pytest.mark.parametrize(
    "progress, reason",
    [
        (Progress(epoch=4), "max_epochs"),
        (Progress(epoch=2, elapsed_s=10.0), "max_time"),
        (Progress(epoch=2, epochs_without_improvement=3), "early_stopping"),
        (Progress(epoch=2, elapsed_s=9.0, epochs_without_improvement=2), None),
    ],
)
def test_stop_reason(progress, reason):
    settings = TrainConfig(max_epochs=4, max_time=10.0, early_stopping_patience=3)
    assert training_loop.stop_reason(progress, settings) == reason


@pytest.mark.parametrize(
    "progress, reason",
    [
        (Progress(epoch=2, elapsed_s=100.0, cpu_s=9.0), None),
        (Progress(epoch=2, elapsed_s=1.0, cpu_s=10.0), "max_time"),
    ],
)
def test_cpu_budget_counts_cpu_seconds_not_wall_seconds(progress, reason):
    settings = TrainConfig(max_epochs=4, max_time=10.0, budget_clock="cpu")
    assert training_loop.stop_reason(progress, settings) == reason


def test_cpu_budget_is_recorded_in_the_run(tmp_path):
    run_dir = tmp_path / "run"
    best = fit(tiny_run(run_dir, max_time=1e-6, budget_clock="cpu"))
    metadata = read_checkpoint(best)["metadata"]
    assert metadata["stopped_because"] == "max_time"
    assert metadata["budget_clock"] == "cpu"
    assert 0 < metadata["training_cpu_s"]
    with open(run_dir / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert float(rows[-1]["cpu_s"]) == metadata["training_cpu_s"]


@pytest.mark.parametrize(
    "settings, expected",
    [
        ({}, ("per_atom", TrainConfig().huber_delta)),
        ({"loss": "mse"}, ("per_atom", None)),
        (
            {"loss": "huber", "huber_delta": 0.02, "energy_loss": "total"},
            ("total", 0.02),
        ),
    ],
)
def test_loss_settings_reach_every_step(tmp_path, monkeypatch, settings, expected):
    seen = []
    loss = training_epoch.weighted_loss

    def recording(*args):
        seen.append(args[5:])
        return loss(*args)

    monkeypatch.setattr(training_epoch, "weighted_loss", recording)
    fit(tiny_run(tmp_path / "run", max_epochs=1, **settings))
    assert len(seen) == 3
    assert set(seen) == {expected}


def test_early_stopping_ends_the_run(tmp_path, monkeypatch):
    errors = dict.fromkeys(
        ["energy_mae", "energy_rmse", "energy_per_atom_mae", "energy_per_atom_rmse"],
        1.0,
    )
    errors.update(forces_mae=1.0, forces_rmse=1.0)
    monkeypatch.setattr(training_loop, "evaluate", lambda *args, **kwargs: dict(errors))
    best = fit(tiny_run(tmp_path / "run", max_epochs=10, early_stopping_patience=2))
    metadata = read_checkpoint(best)["metadata"]
    assert metadata["stopped_because"] == "early_stopping"
    assert (metadata["epochs_run"], metadata["best_epoch"]) == (3, 1)


def test_divergence_is_explained(tmp_path, monkeypatch):
    def diverging(*args, **kwargs):
        return {"loss": float("nan")}

    monkeypatch.setattr(training_loop, "train_one_epoch", diverging)
    with pytest.raises(ValueError, match="training diverged in epoch 1"):
        fit(tiny_run(tmp_path / "run"))
    assert "diverged" in (tmp_path / "run" / "train.log").read_text()


def test_a_new_run_refuses_an_existing_run_directory(finished_run):
    run_dir, _ = finished_run
    with pytest.raises(FileExistsError, match="--resume"):
        fit(tiny_run(run_dir))


def test_resume_refuses_changed_data(tmp_path):
    data_file = tmp_path / "frames.npz"
    shutil.copy(TRAIN_FILE, data_file)
    fit(tiny_run(tmp_path / "run", train_file=data_file, max_epochs=1))
    shutil.copy(TEST_FILE, data_file)
    config = load_resume_config(tmp_path / "run", ["train.max_epochs=2"])
    with pytest.raises(ValueError, match="data files changed"):
        fit(config, resume=True)


def test_a_state_saved_without_checksums_resumes(tmp_path):
    fit(tiny_run(tmp_path / "run", max_epochs=1))
    state_path = tmp_path / "run" / "last.state"
    state = torch.load(state_path, weights_only=True)
    state["data_sha256"] = {name: None for name in state["data_sha256"]}
    torch.save(state, state_path)
    config = load_resume_config(tmp_path / "run", ["train.max_epochs=2"])
    fit(config, resume=True)
    assert torch.load(state_path, weights_only=True)["progress"]["epoch"] == 2


def test_too_few_frames_for_the_split_is_explained(tmp_path):
    config = tiny_run(tmp_path / "run")
    config.data.n_train = 30
    with pytest.raises(ValueError, match="ask for fewer frames"):
        fit(config)


@pytest.mark.parametrize(
    "threads, train, warned",
    [
        (2, {"max_time": 60.0, "budget_clock": "cpu"}, True),
        (1, {"max_time": 60.0, "budget_clock": "cpu"}, False),
        (2, {"max_time": 60.0, "budget_clock": "wall"}, False),
        (2, {"budget_clock": "cpu"}, False),
    ],
)
def test_cpu_budget_on_several_threads_is_warned(threads, train, warned):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        note = training_loop.cpu_budget_threads_note(TrainConfig(**train))
    finally:
        torch.set_num_threads(before)
    assert (note is not None) == warned
    if warned:
        assert "OMP_NUM_THREADS=1" in note and f"{threads} threads" in note
