"""Run configs: YAML with defaults, --set overrides, unknown keys, resuming."""

from pathlib import Path

import pytest
import yaml

from mlpot.train import RunConfig, TrainConfig, load_config, load_resume_config
from mlpot.train.config_files import parse_overrides, write_config


def write_yaml(path, values):
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.fixture
def config_file(tmp_path):
    return write_yaml(
        tmp_path / "run.yaml",
        {
            "data": {"train": "frames.npz", "n_train": 15, "n_val": 5},
            "model": {"name": "invariant", "num_features": 8},
            "train": {"lr": "1e-3", "max_epochs": 3},
            "output": "runs/a",
        },
    )


def test_yaml_maps_onto_dataclasses_with_defaults(config_file):
    config = load_config(config_file)
    assert config.data.train == "frames.npz"
    assert (config.data.n_train, config.data.n_val) == (15, 5)
    assert config.data.test is None
    # PyYAML reads "1e-3" as a string; a float field accepts it.
    assert config.train.lr == pytest.approx(1e-3)
    assert config.train.max_epochs == 3
    assert config.train.batch_size == TrainConfig.batch_size
    assert config.model == {"name": "invariant", "num_features": 8}
    assert config.output == "runs/a"


def test_resolved_config_round_trips_through_yaml(config_file, tmp_path):
    config = load_config(config_file, ["train.max_time=60"])
    write_config(config, tmp_path / "resolved.yaml")
    assert load_config(tmp_path / "resolved.yaml") == config


def test_overrides_are_read_as_yaml(config_file):
    config = load_config(
        config_file,
        [
            "train.lr=2e-3",
            "train.grad_clip=null",
            "model.num_layers=2",
            "data.test=test.xyz",
            "output=runs/b",
        ],
    )
    assert config.train.lr == pytest.approx(2e-3)
    assert config.train.grad_clip is None
    assert config.model["num_layers"] == 2
    assert config.data.test == "test.xyz"
    assert config.output == "runs/b"


def test_override_without_equals_sign_is_explained():
    with pytest.raises(ValueError, match="section.key=value"):
        parse_overrides(["train.lr"])


@pytest.mark.parametrize(
    "override, suggestion",
    [
        ("train.lrr=0.1", "train.lr"),
        ("train.forces_weigth=10", "train.forces_weight"),
        ("train.max_epoch=3", "train.max_epochs"),
        ("model.num_feature=4", "model.num_features"),
        ("data.n_vall=3", "data.n_val"),
        ("outptu=runs/c", "output"),
    ],
)
def test_unknown_key_names_the_closest_valid_key(config_file, override, suggestion):
    key = override.split("=")[0]
    with pytest.raises(ValueError, match=f"unknown config key '{key}'") as error:
        load_config(config_file, [override])
    assert f"Did you mean '{suggestion}'?" in str(error.value)


def test_unknown_key_in_the_file_is_rejected(tmp_path):
    path = write_yaml(tmp_path / "bad.yaml", {"data": {"train": "x.npz"}, "trian": {}})
    with pytest.raises(ValueError, match="Did you mean 'train'"):
        load_config(path)


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.batch_size=five", "train.batch_size must be int"),
        ("train.max_epochs=0", "train.max_epochs must be at least 1"),
        ("train.dtype=float16", "train.dtype must be one of"),
        ("train.min_lr=1.0", "train.min_lr must be positive and at most train.lr"),
        ("train.forces_weight=-1", "train.forces_weight must be >= 0"),
        ("train.ema_decay=1.0", r"train.ema_decay must be in \[0, 1\)"),
        ("train.monitor=accuracy", "train.monitor must be one of"),
        ("train.loss=l1", "train.loss must be one of"),
        ("train.energy_loss=per_bond", "train.energy_loss must be one of"),
        ("train.huber_delta=0", "train.huber_delta must be positive"),
        ("data.n_val=0", "data.n_val must be at least 1"),
        ("model=[1, 2]", "'model' must be a mapping"),
    ],
)
def test_bad_values_are_named(config_file, override, message):
    with pytest.raises(ValueError, match=message):
        load_config(config_file, [override])


def test_loss_needs_a_weight(config_file):
    with pytest.raises(ValueError, match="both 0"):
        load_config(config_file, ["train.forces_weight=0", "train.energy_weight=0"])


def test_null_species_and_neighbour_count_mean_from_the_data(config_file):
    config = load_config(
        config_file, ["model.species=null", "model.avg_num_neighbors=null"]
    )
    assert "species" not in config.model
    assert "avg_num_neighbors" not in config.model


def test_missing_training_file_is_explained(tmp_path):
    path = write_yaml(tmp_path / "empty.yaml", {"train": {"lr": 0.01}})
    with pytest.raises(ValueError, match="data.train is missing"):
        load_config(path)


def test_missing_config_file_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_config(tmp_path / "nothing.yaml")


def test_resume_accepts_only_budget_changes(config_file, tmp_path):
    run_dir = tmp_path / "run"
    write_config(load_config(config_file), run_dir / "config.yaml")
    config = load_resume_config(run_dir, ["train.max_epochs=10", "train.max_time=5"])
    assert config.train.max_epochs == 10
    assert config.train.max_time == 5.0
    assert config.output == str(run_dir)
    with pytest.raises(ValueError, match="train.lr cannot change when resuming"):
        load_resume_config(run_dir, ["train.lr=0.1"])


def test_resume_needs_a_run_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no config.yaml"):
        load_resume_config(tmp_path)


def test_from_dict_builds_the_same_config_as_yaml(config_file):
    values = yaml.safe_load(config_file.read_text())
    assert RunConfig.from_dict(values) == load_config(config_file)


def test_example_config_is_valid():
    example = Path(__file__).parents[1] / "training" / "example-ethanol-small.yaml"
    config = load_config(example)
    assert config.model["name"] == "equivariant"
    assert config.data.train.endswith("rmd17_ethanol_train_01.npz")
    assert (config.data.n_train, config.data.n_val) == (950, 50)


def test_config_reference_is_current_and_complete():
    from dataclasses import fields

    from mlpot.model.config import ModelConfig
    from mlpot.train.config import DataConfig, TrainConfig
    from mlpot.train.config_reference import config_reference

    reference = config_reference()
    committed = Path(__file__).parents[1] / "docs" / "config.md"
    assert committed.read_text() == reference, (
        "docs/config.md is out of date: mlpot-train --help-config > docs/config.md"
    )
    for section, cls in (
        ("data", DataConfig),
        ("model", ModelConfig),
        ("train", TrainConfig),
    ):
        for field in fields(cls):
            row = next(
                line
                for line in reference.splitlines()
                if line.startswith(f"| `{section}.{field.name}` |")
            )
            assert row.split("|")[4].strip(), f"{section}.{field.name} has no meaning"
