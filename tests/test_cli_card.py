"""``mlpot-card``: a model card generated from a trained checkpoint."""

from pathlib import Path

import pytest
import yaml

from mlpot.cli.card import main as card_main
from mlpot.cli.train import main as train_main
from mlpot.data.files import sha256sum
from mlpot.train.report import evaluate_file

DATA = Path(__file__).parent / "data"


@pytest.fixture
def trained(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("train", "test"):
        source = DATA / f"rmd17_ethanol_{name}_01_subset.npz"
        (tmp_path / f"{name}.npz").write_bytes(source.read_bytes())
    Path("recipe.yaml").write_text(
        yaml.safe_dump(
            {
                "data": {"train": "train.npz", "test": "test.npz", "n_val": 5},
                "model": {"name": "invariant", "num_features": 8, "num_layers": 1},
                "train": {"batch_size": 5, "max_epochs": 2},
                "output": "runs/card",
            }
        )
    )
    assert train_main(["recipe.yaml", "--quiet"]) == 0
    return tmp_path / "runs" / "card" / "best.ckpt"


def test_card_is_generated_from_metadata_and_evaluation(trained, tmp_path):
    card_path = tmp_path / "card.md"
    assert card_main([str(trained), "-o", str(card_path), "--md-ps", "0.01"]) == 0
    card = card_path.read_text()
    errors = evaluate_file(trained, "test.npz")["metrics"]
    assert f"| forces | {errors['forces_mae_meV_per_A']:.2f} meV/Å" in card
    assert f"{errors['forces_mae_kcal_mol_per_A']:.4f} kcal/mol/Å" in card
    assert sha256sum(DATA / "rmd17_ethanol_train_01_subset.npz") in card
    assert "15 train + 5 validation (seed 0)" in card
    assert "mlpot-train recipe.yaml" in card
    assert "every covalent bond stayed intact" in card or "a bond broke" in card
    assert "ms (float64)" in card and "ms (float32)" in card
    assert str(tmp_path) not in card


def test_card_needs_a_test_file(trained, tmp_path, capsys):
    checkpoint = tmp_path / "runs" / "card" / "best.ckpt"
    from mlpot import load_model, save_model

    model = load_model(checkpoint)
    save_model(model, tmp_path / "bare.ckpt", {})
    assert card_main([str(tmp_path / "bare.ckpt")]) == 1
    assert "--test FILE" in capsys.readouterr().err
