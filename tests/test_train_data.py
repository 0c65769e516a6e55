"""Reading and splitting the data of a run."""

import os
from pathlib import Path

import numpy as np
import pytest

from mlpot.data import find_duplicates, read_frames, write_store
from mlpot.data.files import sha256sum
from mlpot.train import DataConfig
from mlpot.train.data import load_run_data

DATA = Path(__file__).parent / "data"
TRAIN_FILE = DATA / "rmd17_ethanol_train_01_subset.npz"
TEST_FILE = DATA / "rmd17_ethanol_test_01_subset.npz"
SGDML_FILE = DATA / "ethanol_ccsd_t-train_subset.npz"


def test_split_sizes_and_provenance():
    data = load_run_data(
        DataConfig(train=str(TRAIN_FILE), test=str(TEST_FILE), n_train=12, n_val=5),
        seed=0,
    )
    assert (len(data.train), len(data.val), len(data.test)) == (12, 5, 20)
    assert not set(data.split["train"]) & set(data.split["val"])
    np.testing.assert_array_equal(data.train.frame_ids, data.split["train"])
    assert data.provenance["train"]["sha256"] == sha256sum(TRAIN_FILE)
    assert data.provenance["test"]["n_frames"] == 20
    assert data.provenance["train"]["path"] == os.path.relpath(TRAIN_FILE)
    assert data.species() == [1, 6, 8]
    frames = read_frames(TRAIN_FILE)
    k = data.split["val"][0]
    np.testing.assert_array_equal(data.val.energy[0], frames.energy[k])


def test_validation_frames_do_not_change_with_n_train():
    config = DataConfig(train=str(TRAIN_FILE), n_train=5, n_val=5)
    small = load_run_data(config, seed=3)
    config.n_train = None
    everything = load_run_data(config, seed=3)
    assert small.split["val"] == everything.split["val"]
    assert set(small.split["train"]) < set(everything.split["train"])
    assert len(everything.train) == 15
    assert load_run_data(config, seed=4).split["val"] != small.split["val"]


def test_frames_also_in_the_test_file_are_left_out(tmp_path):
    frames = read_frames(TRAIN_FILE)
    held_out = write_store(tmp_path / "held_out.h5", frames.subset([0, 1, 2, 3, 4]))
    data = load_run_data(
        DataConfig(train=str(TRAIN_FILE), test=str(held_out), n_val=5), 0
    )
    used = set(data.split["train"]) | set(data.split["val"])
    assert used == set(range(5, 20))


def test_duplicate_geometries_stay_in_one_split():
    data = load_run_data(DataConfig(train=str(SGDML_FILE), n_val=3), seed=0)
    pairs = find_duplicates(read_frames(SGDML_FILE))
    assert len(pairs) == 2
    for pair in pairs:
        ids = set(pair.tolist())
        assert ids <= set(data.split["train"]) or ids <= set(data.split["val"])


def test_too_many_validation_frames_is_explained():
    with pytest.raises(ValueError, match="lower data.n_val"):
        load_run_data(DataConfig(train=str(TRAIN_FILE), n_val=20), seed=0)


def test_missing_file_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_run_data(DataConfig(train=str(tmp_path / "missing.npz")), seed=0)
