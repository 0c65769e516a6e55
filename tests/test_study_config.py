"""The study config: loading, paths, and errors that say what to fix."""

from pathlib import Path

import pytest
import yaml

from mlpot.study import load_study_config, study_config_from_dict
from mlpot.study.config import recorded_config
from mlpot.study.runs import run_config
from mlpot.study.symmetry import cartesian_run

EXAMPLES = Path(__file__).parents[1] / "examples" / "study"


@pytest.fixture
def small():
    return yaml.safe_load((EXAMPLES / "small.yaml").read_text())


def test_presets_load_with_paths_relative_to_the_config_file():
    config = load_study_config(EXAMPLES / "small.yaml")
    train = Path(config.molecules["ethanol"].train)
    assert train.is_absolute() and train.is_file()
    assert train.name == "rmd17_ethanol_train_01_subset.npz"
    full = load_study_config(EXAMPLES / "full.yaml")
    assert list(full.molecules) == ["ethanol", "toluene", "aspirin"]
    assert full.data_efficiency.sizes == [50, 100, 250, 500, 950]
    assert full.families["invariant"].train == {"lr": 2.0e-3}


def test_records_name_data_files_relative_to_their_folder(tmp_path):
    config = load_study_config(EXAMPLES / "small.yaml")
    folder = tmp_path / "studies" / "small"
    recorded = config.to_dict(relative_to=folder)["molecules"]["ethanol"]
    for key in ("train", "test"):
        held = Path(getattr(config.molecules["ethanol"], key))
        assert not Path(recorded[key]).is_absolute()
        assert str(tmp_path) not in recorded[key]
        assert (folder / recorded[key]).resolve() == held
    held = config.to_dict()["molecules"]["ethanol"]
    assert held["train"] == config.molecules["ethanol"].train


def test_records_with_absolute_paths_read_as_relative_ones(tmp_path):
    config = load_study_config(EXAMPLES / "small.yaml")
    folder = tmp_path / "study"
    relative = config.to_dict(relative_to=folder)
    assert recorded_config(config.to_dict(), folder) == relative
    assert recorded_config(relative, folder) == relative
    assert recorded_config(relative, folder)["latent"] == relative["latent"]


def test_run_config_merges_shared_family_and_run_settings(tmp_path):
    config = load_study_config(EXAMPLES / "full.yaml")
    run = run_config(
        config, cartesian_run(config, "toluene", "cartesian-augmented"), tmp_path
    )
    assert run.model["name"] == "cartesian"
    assert run.train.lr == 2.0e-3 and run.train.max_time == 900
    assert run.train.augment_rotations and run.train.quiet
    assert (run.data.n_train, run.data.n_val) == (950, 50)
    assert run.output == str(tmp_path / "runs" / "toluene" / "cartesian-augmented-n950")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["data_efficiency"].update(sizes=[5]), "2\\+ different sizes"),
        (lambda c: c["latent"].update(n_train=7), "latent.n_train is 7"),
        (lambda c: c["train"].update(seed=3), "train.seed is set by the study"),
        (lambda c: c["train"].update(min_lrr=1), "Did you mean 'train.min_lr'"),
        (lambda c: c["families"].pop("cartesian"), "families lacks \\['cartesian'\\]"),
        (
            lambda c: c["families"]["invariant"]["model"].update(lmaxx=2),
            "families.invariant: .* Did you mean 'model.lmax'",
        ),
        (lambda c: c.update(molecules={"methane": {}}), "unknown molecule 'methane'"),
        (lambda c: c["symmetry"].update(trials="many"), "symmetry.trials must be int"),
        (lambda c: c["generalisation"].update(fraction=1.2), "fraction must be in"),
        (lambda c: c.update(latnet={}), "Did you mean 'latent'"),
    ],
)
def test_mistakes_are_explained(small, change, message):
    change(small)
    with pytest.raises(ValueError, match=message):
        study_config_from_dict(small, base=EXAMPLES)
