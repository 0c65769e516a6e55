"""The HDF5 store: round trip, layout, atomic writes and appends."""

import dataclasses
from pathlib import Path

import h5py
import numpy as np
import pytest

from mlpot.data import (
    Frames,
    append_store,
    concatenate,
    read_frames,
    read_store,
    write_store,
)

DATA = Path(__file__).parent / "data"
ARRAYS = ("positions", "numbers", "n_atoms", "energy", "forces", "frame_ids")


@pytest.fixture
def ethanol():
    return read_frames(DATA / "rmd17_ethanol_train_01_subset.npz")


def assert_same_frames(a: Frames, b: Frames):
    for name in (*ARRAYS, "cell", "pbc"):
        left, right = getattr(a, name), getattr(b, name)
        if left is None or right is None:
            assert left is None and right is None, name
        else:
            assert left.dtype == right.dtype, name
            np.testing.assert_array_equal(left, right, err_msg=name)


def test_round_trip_is_bitwise(tmp_path, ethanol):
    path = write_store(tmp_path / "ethanol.h5", ethanol)
    stored = read_store(path)
    assert_same_frames(stored, ethanol)
    for name in ARRAYS:
        assert getattr(stored, name).tobytes() == getattr(ethanol, name).tobytes()
    assert stored.attrs == ethanol.attrs
    assert isinstance(stored.attrs["source_sha256"], str)


def test_layout_units_and_compression(tmp_path, ethanol):
    path = write_store(tmp_path / "ethanol.h5", ethanol)
    with h5py.File(path, "r") as store:
        assert store.attrs["format"] == "mlpot-frames"
        assert store.attrs["energy_unit"] == "eV"
        assert store.attrs["force_unit"] == "eV/Angstrom"
        assert store.attrs["length_unit"] == "Angstrom"
        assert store.attrs["source_energy_unit"] == "kcal/mol"
        assert store.attrs["level_of_theory"].startswith("PBE/def2-SVP")
        assert store["positions"].shape == (180, 3)
        assert store["positions"].chunks is not None
        assert store["forces"].compression == "gzip"
        assert "cell" not in store


def test_periodic_frames_round_trip(tmp_path):
    frames = Frames(
        positions=np.random.default_rng(0).random((5, 3)),
        numbers=[29, 29, 29, 8, 8],
        n_atoms=[3, 2],
        energy=[-10.0, -8.5],
        forces=np.zeros((5, 3)),
        cell=[np.eye(3) * 3.6, np.eye(3) * 4.0],
        pbc=[[True, True, True], [True, True, False]],
        frame_ids=[7, 9],
        attrs={"level_of_theory": "EMT", "temperature_K": 300.0, "md": True},
    )
    stored = read_store(write_store(tmp_path / "cu.h5", frames))
    assert_same_frames(stored, frames)
    assert stored.attrs == frames.attrs
    assert isinstance(stored.attrs["md"], bool)


def test_read_frames_reads_a_store(tmp_path, ethanol):
    path = write_store(tmp_path / "ethanol.h5", ethanol)
    assert_same_frames(read_frames(path), ethanol)
    with pytest.raises(ValueError, match="always holds eV.*drop energy_unit"):
        read_frames(path, energy_unit="kcal/mol")
    # The store's own units are correct, if redundant.
    named = read_frames(path, energy_unit="eV", force_unit="eV/Angstrom")
    assert_same_frames(named, ethanol)


def _fail_after_first_dataset(monkeypatch):
    original = h5py.Group.create_dataset
    calls = []

    def failing(self, *args, **kwargs):
        calls.append(args[0])
        if len(calls) > 1:
            raise OSError("simulated failure: disk full")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", failing)
    return calls


def test_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch, ethanol):
    path = write_store(tmp_path / "ethanol.h5", ethanol.subset(range(5)))
    before = path.read_bytes()
    calls = _fail_after_first_dataset(monkeypatch)
    with pytest.raises(OSError, match="simulated failure"):
        write_store(path, ethanol)
    assert calls == ["positions", "numbers"]
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ethanol.h5"]
    with pytest.raises(OSError, match="simulated failure"):
        write_store(tmp_path / "new.h5", ethanol)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ethanol.h5"]


def test_append_in_chunks_equals_one_write(tmp_path, ethanol):
    path = tmp_path / "chunks.h5"
    for chunk in (range(0, 5), range(5, 12), range(12, 20)):
        append_store(path, ethanol.subset(chunk))
    assert_same_frames(read_store(path), ethanol)
    assert read_store(path).attrs == ethanol.attrs


def test_append_refuses_repeated_ids_and_other_theory(tmp_path, ethanol):
    path = append_store(tmp_path / "chunks.h5", ethanol.subset(range(10)))
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"frame ids \[8, 9\] are already in"):
        append_store(path, ethanol.subset(range(8, 12)))
    other = ethanol.subset(range(10, 20))
    other.attrs["level_of_theory"] = "GFN2-xTB"
    with pytest.raises(ValueError, match="level_of_theory='GFN2-xTB'.*separate store"):
        append_store(path, other)
    assert path.read_bytes() == before


def _fail_after_first_resize(monkeypatch):
    original = h5py.Dataset.resize
    calls = []

    def failing(self, *args, **kwargs):
        calls.append(self.name)
        if len(calls) > 1:
            raise OSError("simulated failure: disk full")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Dataset, "resize", failing)
    return calls


def test_interrupted_append_keeps_the_old_store(tmp_path, monkeypatch, ethanol):
    path = append_store(tmp_path / "chunks.h5", ethanol.subset(range(10)))
    before = path.read_bytes()
    calls = _fail_after_first_resize(monkeypatch)
    with pytest.raises(OSError, match="simulated failure"):
        append_store(path, ethanol.subset(range(10, 20)))
    assert len(calls) == 2
    assert path.read_bytes() == before
    assert len(list(tmp_path.iterdir())) == 1
    monkeypatch.undo()
    append_store(path, ethanol.subset(range(10, 20)))
    assert_same_frames(read_store(path), ethanol)


def test_append_extends_tags_and_rewrites_a_fixed_size_store(tmp_path, ethanol):
    tagged = dataclasses.replace(ethanol, config_type=np.array(["md"] * 20))
    path = append_store(tmp_path / "tagged.h5", tagged.subset(range(10)))
    append_store(path, tagged.subset(range(10, 20)))
    assert read_store(path).config_type.tolist() == ["md"] * 20

    fixed = tmp_path / "fixed.h5"
    with h5py.File(write_store(tmp_path / "a.h5", ethanol.subset(range(10)))) as a:
        with h5py.File(fixed, "w") as store:
            store.attrs.update(a.attrs)
            for name, dataset in a.items():
                store.create_dataset(name, data=dataset[()])
    append_store(fixed, ethanol.subset(range(10, 20)))
    assert_same_frames(read_store(fixed), ethanol)
    with h5py.File(fixed, "r") as store:
        assert store["positions"].maxshape[0] is None


def test_store_errors(tmp_path, ethanol):
    with pytest.raises(FileNotFoundError, match="no such file.*mlpot-data convert"):
        read_store(tmp_path / "missing.h5")
    with h5py.File(tmp_path / "other.h5", "w") as other:
        other["x"] = np.zeros(3)
    with pytest.raises(ValueError, match="not an mlpot store.*mlpot-data convert"):
        read_store(tmp_path / "other.h5")
    bad = ethanol.subset(range(3))
    bad.attrs["temperatures"] = [300, 400]
    with pytest.raises(ValueError, match=r"attrs\['temperatures'\] is a list.*json"):
        write_store(tmp_path / "bad.h5", bad)
    bad = ethanol.subset(range(3))
    bad.energy[1] = np.nan
    with pytest.raises(ValueError, match="energies of 1 frame.*frames \\[1\\]"):
        write_store(tmp_path / "nan.h5", bad)
    assert not (tmp_path / "bad.h5").exists() and not (tmp_path / "nan.h5").exists()


def test_concatenate_keeps_labels_consistent(ethanol):
    unlabelled = ethanol.subset(range(2))
    unlabelled.energy = None
    with pytest.raises(ValueError, match="some of the Frames to join have energy"):
        concatenate([ethanol, unlabelled])
    joined = concatenate([ethanol.subset([3]), ethanol.subset([1, 2])])
    assert_same_frames(joined, ethanol.subset([3, 1, 2]))
