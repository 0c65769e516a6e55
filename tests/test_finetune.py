"""model.finetune_from: weights loaded, settings and species checked, origin kept."""

from pathlib import Path

import pytest
import torch
import yaml
from tiny_training import DATA

from mlpot.cli.train import main as train_main
from mlpot.model.io import load_model, read_checkpoint


def pretrain(data_file, output):
    """A tiny invariant model trained for 2 epochs on ``data_file`` (in tests/data)."""
    Path(data_file).write_bytes((DATA / data_file).read_bytes())
    Path("pretrain.yaml").write_text(
        yaml.safe_dump(
            {
                "data": {"train": data_file, "n_val": 2},
                "model": {"name": "invariant", "num_features": 8, "num_layers": 1},
                "train": {"batch_size": 2, "max_epochs": 2},
                "output": output,
            }
        )
    )
    assert train_main(["pretrain.yaml", "--quiet"]) == 0
    return Path(output).resolve() / "best.ckpt"


@pytest.fixture
def pretrained(tmp_path, monkeypatch):
    """A tiny model pretrained on CCSD(T) ethanol (C, H, O), to tune on rMD17's."""
    monkeypatch.chdir(tmp_path)
    Path("ethanol.npz").write_bytes(
        (DATA / "rmd17_ethanol_train_01_subset.npz").read_bytes()
    )
    return pretrain("ethanol_ccsd_t-train_subset.npz", "runs/pretrained")


def finetune(source, output, model=None, train=None, data=None):
    Path("finetune.yaml").write_text(
        yaml.safe_dump(
            {
                "data": {"train": "ethanol.npz", "n_val": 5, **(data or {})},
                "model": {"finetune_from": str(source), **(model or {})},
                "train": {
                    "batch_size": 5,
                    "max_epochs": 1,
                    "lr": 1e-3,
                    **(train or {}),
                },
                "output": output,
            }
        )
    )
    return train_main(["finetune.yaml", "--quiet"])


def test_finetuning_starts_from_the_pretrained_weights_and_records_them(pretrained):
    before = load_model(pretrained)
    assert finetune(pretrained, "runs/ft", train={"freeze": ["embedding"]}) == 0
    after = load_model("runs/ft/last.ckpt")
    assert after.config.to_dict() == before.config.to_dict()
    # Frozen: exactly the pretrained values; the rest moved from them.
    assert torch.equal(after.embedding.weight, before.embedding.weight)
    moved = [
        float((a - b).abs().max())
        for (name, a), b in zip(
            after.named_parameters(), before.parameters(), strict=True
        )
        if not name.startswith("embedding")
    ]
    assert max(moved) > 0
    # The pretrained reference energies are kept without data.E0s.
    assert torch.equal(after.atomic_energy_shift, before.atomic_energy_shift)
    meta = read_checkpoint("runs/ft/best.ckpt")["metadata"]
    origin = meta["finetuned_from"]
    assert origin["source"] == str(pretrained)
    assert origin["digest"] == read_checkpoint(pretrained)["digest"]
    assert meta["E0s"]["source"].startswith("the pretrained model")
    written = yaml.safe_load(Path("runs/ft/config.yaml").read_text())
    assert written["model"]["finetune_from"] == str(pretrained)


def test_finetuning_with_new_E0s_sets_them(pretrained):
    e0s = {"H": -13.0, "C": -1030.0, "O": -2040.0}
    assert finetune(pretrained, "runs/e0", data={"E0s": e0s}) == 0
    shift = load_model("runs/e0/last.ckpt").atomic_energy_shift.tolist()
    assert shift == pytest.approx([-13.0, -1030.0, -2040.0])


def test_finetuning_refuses_a_different_architecture(pretrained, capsys):
    assert finetune(pretrained, "runs/bad", model={"num_features": 16}) != 0
    assert (
        "model.num_features is 16 but the pretrained model" in capsys.readouterr().err
    )


def test_finetuning_refuses_elements_the_model_never_saw(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("ethanol.npz").write_bytes(
        (DATA / "rmd17_ethanol_train_01_subset.npz").read_bytes()
    )
    source = pretrain("rmd17_toluene_train_01_subset.npz", "runs/ch")  # C and H only
    assert finetune(source, "runs/o") != 0
    assert "the training data contains O, which the pretrained model" in (
        capsys.readouterr().err
    )


def test_freezing_an_unknown_parameter_is_refused(pretrained, capsys):
    assert finetune(pretrained, "runs/f", train={"freeze": ["layer.0"]}) != 0
    assert "train.freeze: 'layer.0' names no parameter of this model" in (
        capsys.readouterr().err
    )


def test_an_unknown_pretrained_name_is_refused(pretrained, capsys):
    assert finetune("no-such-model", "runs/n") != 0
    assert "model.finetune_from: no-such-model is neither a checkpoint file nor" in (
        capsys.readouterr().err
    )


def test_card_names_the_pretrained_origin(pretrained):
    from mlpot.cli.card import main as card_main

    assert finetune(pretrained, "runs/card", train={"freeze": ["embedding"]}) == 0
    assert (
        card_main(["runs/card/best.ckpt", "-o", "card.md", "--test", "ethanol.npz"])
        == 0
    )
    card = Path("card.md").read_text()
    assert f"- fine-tuned from `{pretrained}`" in card
    assert "frozen: `embedding`" in card
