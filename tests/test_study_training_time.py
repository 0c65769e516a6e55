"""Best error so far against training time, and when one model pulls ahead."""

from pathlib import Path

import numpy as np
import pytest

from mlpot.study.training_time import ahead_from, best_so_far
from mlpot.train.records import read_metrics


def curve(times, errors):
    return {"time_s": np.array(times, float), "errors": np.array(errors, float)}


def test_best_so_far_is_a_step_function_of_time():
    times, errors = [10, 20, 30, 40], [5.0, 6.0, 3.0, 4.0]
    at = [0, 9.9, 10, 25, 30, 100]
    assert best_so_far(times, errors, at).tolist() == [
        np.inf,
        np.inf,
        5.0,
        5.0,
        3.0,
        3.0,
    ]


def test_the_slower_but_better_model_is_ahead_from_the_crossing():
    fast = curve([1, 2, 3, 4, 5, 6], [10, 8, 7, 6.5, 6.2, 6.0])
    slow = curve([3, 6], [9, 5])
    assert ahead_from(slow, fast) == 6.0
    assert ahead_from(fast, slow) is None


def test_a_lead_lost_and_regained_counts_from_the_last_crossing():
    a = curve([1, 2, 3, 4], [5, 5, 5, 1])
    b = curve([1.5, 2.5], [6, 4])
    # a leads from 1 s, b from 2.5 s, a again from 4 s.
    assert ahead_from(a, b) == 4.0
    assert ahead_from(curve([1, 2], [1, 1]), curve([1.5], [2])) == 1.0


def test_a_model_that_stopped_early_keeps_its_best():
    stopped = curve([1, 2], [3, 2])
    longer = curve([1, 2, 3, 4], [4, 3, 2.5, 1.5])
    assert ahead_from(longer, stopped) == 4.0


def test_missing_or_empty_metrics_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="has the run started"):
        read_metrics(tmp_path / "metrics.csv")
    (tmp_path / "metrics.csv").write_text("epoch,elapsed_s\n")
    with pytest.raises(ValueError, match="no completed epoch"):
        read_metrics(tmp_path / "metrics.csv")


def test_a_cpu_time_budget_is_read_on_the_cpu_clock(tmp_path):
    """With ``budget_clock: cpu`` the shares of the budget are CPU seconds."""
    import yaml

    from mlpot.study import load_study_config
    from mlpot.study.training_time import analyse, analysed_runs

    examples = Path(__file__).parents[1] / "examples" / "study"
    settings = yaml.safe_load((examples / "small.yaml").read_text())
    for key in ("train", "test"):
        path = examples / settings["molecules"]["ethanol"][key]
        settings["molecules"]["ethanol"][key] = str(path.resolve())
    settings["train"].update(max_time=100.0, budget_clock="cpu")
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(settings))
    study = load_study_config(tmp_path / "study.yaml")
    # Wall time runs at twice the CPU time (a busy machine); the error falls
    # to 1 meV/Å after 50 CPU s, which is 100 s of wall time.
    rows = ["epoch,elapsed_s,cpu_s,epoch_s,val_forces_mae_meV_per_A"]
    rows += [f"{k},{20 * k},{10 * k},20,{10.0 if k < 5 else 1.0}" for k in range(1, 11)]
    for run in analysed_runs(study, "ethanol").values():
        run.directory(tmp_path).mkdir(parents=True)
        (run.directory(tmp_path) / "metrics.csv").write_text("\n".join(rows) + "\n")
    part = analyse(study, "ethanol", tmp_path)
    assert part["clock"] == "cpu" and part["budget_s"] == 100.0
    summary = part["families"]["equivariant"]
    assert summary["seconds_per_epoch"] == 10.0
    assert summary["best_val_forces_meV_per_A"]["0.5"] == 1.0
    assert summary["best_val_forces_meV_per_A"]["0.25"] == 10.0
