import pytest
from conftest import make_model

from mlpot import EquivCalculator, list_models, pretrained, save_model
from mlpot.pretrained_models import pretrained_path


def test_models_are_found_by_name(tmp_path, monkeypatch):
    save_model(make_model("equivariant"), tmp_path / "water-equivariant.ckpt")
    monkeypatch.setenv("MLPOT_MODELS_DIR", str(tmp_path))
    assert "water-equivariant" in list_models()
    assert (
        pretrained_path("water-equivariant.ckpt") == tmp_path / "water-equivariant.ckpt"
    )
    assert isinstance(pretrained("water-equivariant"), EquivCalculator)


def test_unknown_model_names_the_available_ones(tmp_path, monkeypatch):
    save_model(make_model("invariant"), tmp_path / "water-invariant.ckpt")
    monkeypatch.setenv("MLPOT_MODELS_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="available: .*water-invariant"):
        pretrained("methane-equivariant")
