"""Bad input gives a clear error naming the problem and the fix, not a traceback."""

from pathlib import Path

import numpy as np
import pytest
from conftest import make_model

from mlpot.calculator import MLPotCalculator
from mlpot.cli.evaluate import main as eval_main
from mlpot.data import read_frames, write_store
from mlpot.model import ModelConfig
from mlpot.model.io import save_model
from mlpot.train import load_config
from mlpot.train.config import TrainConfig

DATA = Path(__file__).parent / "data"
RMD17 = DATA / "rmd17_ethanol_train_01_subset.npz"


@pytest.mark.parametrize(
    "text, message",
    [
        ("data: {train: x.npz\n", "not a valid YAML config at line"),
        ("data: !!python/object/apply:os.system ['true']\n", "tags such as !!python"),
    ],
)
def test_broken_yaml_names_the_file(tmp_path, text, message):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_negative_seed_names_the_key():
    with pytest.raises(ValueError, match=r"train.seed must be an integer"):
        TrainConfig(seed=-1)


@pytest.mark.parametrize("r_max", [0.5, 0.0, -1.0])
def test_tiny_r_max_is_refused(r_max):
    with pytest.raises(ValueError, match="r_max must be at least 1.0 Å"):
        ModelConfig(species=[1, 6, 8], r_max=r_max)


@pytest.mark.parametrize("spacing", [0.5, 10.0, 0.0, -0.01])
def test_coarse_radial_tables_are_refused(spacing):
    with pytest.raises(ValueError, match="radial_table_spacing must be in"):
        MLPotCalculator(make_model("equivariant"), radial_table_spacing=spacing)


def test_calculate_many_of_nothing():
    with pytest.raises(ValueError, match="calculate_many got no structures"):
        MLPotCalculator(make_model("invariant")).calculate_many([])


def test_eval_json_onto_a_directory(tmp_path, capsys):
    checkpoint = save_model(make_model("invariant"), tmp_path / "m.ckpt")
    assert eval_main([str(checkpoint), str(RMD17), "--json", str(tmp_path)]) == 1
    assert "is a directory" in capsys.readouterr().err


def test_truncated_store_names_the_file(tmp_path):
    path = write_store(tmp_path / "cut.h5", read_frames(RMD17))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.h5 could not be read.*truncated"):
        read_frames(path)


def test_object_array_npz_is_refused_with_the_file_named(tmp_path):
    with np.load(RMD17) as data:
        arrays = dict(data)
    arrays["energies"] = arrays["energies"].astype(object)
    path = tmp_path / "rmd17_objects.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="rmd17_objects.npz: array 'energies' holds"):
        read_frames(path, format="rmd17")


def test_eval_on_a_store_without_forces_or_version(tmp_path, capsys):
    import h5py

    checkpoint = save_model(make_model("invariant"), tmp_path / "m.ckpt")
    store = write_store(tmp_path / "s.h5", read_frames(RMD17))
    with h5py.File(store, "r+") as handle:
        del handle["forces"]
    # Without forces the store is energy-only data: energy errors only.
    assert eval_main([str(checkpoint), str(store)]) == 0
    out = capsys.readouterr().out
    assert "energy" in out and "forces" not in out
    with h5py.File(store, "r+") as handle:
        del handle.attrs["format_version"]
    assert eval_main([str(checkpoint), str(store)]) == 1
    assert "has no format_version attribute" in capsys.readouterr().err
