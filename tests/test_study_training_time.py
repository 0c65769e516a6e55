"""Best error so far against training time, and when one model pulls ahead."""

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
