"""Splits: seeded, without leakage, duplicates grouped; saved as indices."""

from pathlib import Path

import numpy as np
import pytest

from mlpot.data import (
    find_duplicates,
    load_split,
    read_frames,
    save_split,
    split_indices,
)

DATA = Path(__file__).parent / "data"


@pytest.fixture
def sgdml():
    """10 frames whose rows 6/7 and 8/9 are duplicated geometries."""
    return read_frames(DATA / "ethanol_ccsd_t-train_subset.npz")


@pytest.fixture
def rmd17():
    return read_frames(DATA / "rmd17_ethanol_train_01_subset.npz")


def test_find_duplicates_in_the_sgdml_file(sgdml, rmd17):
    groups = find_duplicates(sgdml)
    assert [group.tolist() for group in groups] == [[6, 7], [8, 9]]
    assert find_duplicates(rmd17) == []


def test_duplicates_need_same_atoms_and_positions(rmd17):
    frames = rmd17.subset([0, 1, 0])
    frames.positions[-9:][0] += 1e-3
    assert find_duplicates(frames) == []
    frames.positions[-9:][0] -= 1e-3
    frames.positions[-9:] += 1e-9  # below the default 1e-6 Å resolution
    assert [g.tolist() for g in find_duplicates(frames)] == [[0, 2]]
    frames.numbers[-9:][0] = 7
    assert find_duplicates(frames) == []


def test_split_sizes_disjoint_and_reproducible(rmd17):
    split = split_indices(rmd17, n_train=12, n_val=5, n_test=3, seed=4)
    assert {name: len(idx) for name, idx in split.items()} == {
        "train": 12,
        "val": 5,
        "test": 3,
    }
    together = np.concatenate(list(split.values()))
    assert len(np.unique(together)) == 20
    again = split_indices(rmd17, n_train=12, n_val=5, n_test=3, seed=4)
    for name in split:
        np.testing.assert_array_equal(split[name], again[name])
    other = split_indices(rmd17, n_train=12, n_val=5, n_test=3, seed=5)
    assert not np.array_equal(split["val"], other["val"])


def test_duplicates_never_cross_splits(sgdml):
    for seed in range(40):
        split = split_indices(sgdml, n_train=5, n_val=3, n_test=2, seed=seed)
        where = {int(i): name for name, idx in split.items() for i in idx}
        for a, b in ((6, 7), (8, 9)):
            assert where.get(a) == where.get(b), (seed, split)
        train, valid = sgdml.subset(split["train"]), sgdml.subset(split["val"])
        train_keys = {p.tobytes() for p in train.positions.reshape(-1, 27)}
        assert not any(
            p.tobytes() in train_keys for p in valid.positions.reshape(-1, 27)
        )


def test_growing_training_sets_are_nested(rmd17):
    small = split_indices(rmd17, n_train=4, n_val=5, seed=1)
    large = split_indices(rmd17, n_train=12, n_val=5, seed=1)
    np.testing.assert_array_equal(small["val"], large["val"])
    assert set(small["train"]) < set(large["train"])


def test_held_out_test_file_is_excluded(rmd17):
    held_out = rmd17.subset([2, 7, 11])
    split = split_indices(rmd17, n_train=12, n_val=5, held_out=held_out)
    used = set(np.concatenate(list(split.values())).tolist())
    assert used.isdisjoint({2, 7, 11})
    assert len(used) == 17
    test_file = read_frames(DATA / "rmd17_ethanol_test_01_subset.npz")
    split = split_indices(rmd17, n_train=15, n_val=5, held_out=test_file)
    assert len(split["train"]) == 15


def test_impossible_split_is_an_error(rmd17):
    with pytest.raises(ValueError, match="cannot split 20 frames.*ask for fewer"):
        split_indices(rmd17, n_train=18, n_val=5)
    with pytest.raises(ValueError, match="n_val=-1 is negative"):
        split_indices(rmd17, n_train=1, n_val=-1)
    with pytest.raises(ValueError, match=r"17 distinct geometries not in held_out"):
        split_indices(rmd17, n_train=15, n_val=5, held_out=rmd17.subset([0, 1, 2]))


def test_save_and_load(tmp_path, rmd17):
    split = split_indices(rmd17, n_train=12, n_val=5, n_test=3, seed=2)
    path = save_split(
        tmp_path / "split.json",
        split,
        seed=2,
        n_frames=len(rmd17),
        source_sha256=rmd17.attrs["source_sha256"],
    )
    loaded = load_split(path, frames=rmd17)
    assert loaded.keys() == split.keys()
    for name in split:
        np.testing.assert_array_equal(loaded[name], split[name])
    assert '"train": [' in path.read_text()


def test_load_refuses_a_split_of_other_frames(tmp_path, rmd17, sgdml):
    split = split_indices(rmd17, n_train=12, n_val=5, seed=2)
    path = save_split(
        tmp_path / "split.json", split, source_sha256=rmd17.attrs["source_sha256"]
    )
    with pytest.raises(ValueError, match="made for a file with sha256"):
        load_split(path, frames=sgdml)
    path = save_split(tmp_path / "bare.json", split)
    with pytest.raises(
        ValueError, match="refers to frame 1[0-9] but there are only 10"
    ):
        load_split(path, frames=sgdml)
    path = save_split(tmp_path / "sized.json", split, n_frames=20)
    with pytest.raises(ValueError, match="made for 20 frames, not 10"):
        load_split(path, frames=sgdml)
    (tmp_path / "other.json").write_text('{"train": [1]}')
    with pytest.raises(ValueError, match="not an mlpot split file"):
        load_split(tmp_path / "other.json")
