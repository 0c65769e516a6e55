"""A tiny trained run from ``recipe.yaml``, for tests of what reads finished runs."""

from pathlib import Path

import yaml

from mlpot.cli.train import main as train_main

DATA = Path(__file__).parent / "data"


def train_tiny(train, test, output, max_epochs):
    """Train a tiny invariant model from ``recipe.yaml`` in the current folder."""
    Path("recipe.yaml").write_text(
        yaml.safe_dump(
            {
                "data": {"train": train, "test": test, "n_val": 5},
                "model": {"name": "invariant", "num_features": 8, "num_layers": 1},
                "train": {"batch_size": 5, "max_epochs": max_epochs},
                "output": output,
            }
        )
    )
    assert train_main(["recipe.yaml", "--quiet"]) == 0
    return Path(output).resolve() / "best.ckpt"


def train_tiny_on_ethanol(output="runs/card", max_epochs=2):
    """Copy the ethanol test subsets into the current folder and train on them."""
    for name in ("train", "test"):
        source = DATA / f"rmd17_ethanol_{name}_01_subset.npz"
        Path(f"{name}.npz").write_bytes(source.read_bytes())
    return train_tiny("train.npz", "test.npz", output, max_epochs)
