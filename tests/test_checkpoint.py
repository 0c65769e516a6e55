import pytest
import torch

from mlpot import keys, load_model, save_model
from mlpot.graph import from_atoms
from mlpot.model.forces import energy_and_forces
from mlpot.model.io import FORMAT_VERSION, CheckpointError, read_checkpoint


def test_round_trip_is_bit_identical(model, ethanol, tmp_path):
    path = save_model(model, tmp_path / "model.ckpt", metadata={"data": "test", "n": 3})
    loaded = load_model(path)
    graph = from_atoms(ethanol, model.r_max)
    before = energy_and_forces(model, graph)
    after = energy_and_forces(loaded, graph)
    assert torch.equal(before[keys.ENERGY], after[keys.ENERGY])
    assert torch.equal(before[keys.FORCES], after[keys.FORCES])
    assert loaded.metadata == {"data": "test", "n": 3}
    assert loaded.config == model.config
    assert not loaded.training


def test_checkpoint_is_self_describing(model, tmp_path):
    payload = read_checkpoint(save_model(model, tmp_path / "m.ckpt"))
    assert payload["format_version"] == FORMAT_VERSION
    assert payload["model_family"] == model.family
    assert payload["species"] == [1, 6, 8]
    assert payload["units"] == {"energy": "eV", "length": "Å"}
    assert payload["normalisation"]["atomic_energy_shift"] == [-3.0, -6.0, -9.0]
    assert payload["normalisation"]["energy_scale"] == pytest.approx(0.7)


def test_checkpoint_holds_no_derived_constants(model, tmp_path):
    # Couplings are rebuilt from e3nn with the model, exactly, in float64.
    payload = read_checkpoint(save_model(model, tmp_path / "m.ckpt"))
    assert not [name for name in payload["state_dict"] if "coupling" in name]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_model(tmp_path / "nowhere.ckpt")


def test_truncated_file(model, tmp_path):
    path = save_model(model, tmp_path / "m.ckpt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_model(path)


def test_foreign_file(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"model": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="not an mlpot checkpoint"):
        load_model(path)
    path.write_text("hello")
    with pytest.raises(CheckpointError, match="truncated, corrupt or not a torch file"):
        load_model(path)


def test_newer_format(model, tmp_path):
    path = save_model(model, tmp_path / "m.ckpt")
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = FORMAT_VERSION + 1
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="upgrade mlpot"):
        load_model(path)


def test_pickled_code_is_not_executed(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    path = tmp_path / "evil.ckpt"
    torch.save({"format": "mlpot-checkpoint", "payload": Evil()}, path)
    with pytest.raises(CheckpointError):
        load_model(path)


def test_failed_save_leaves_previous_file(model, tmp_path):
    path = save_model(model, tmp_path / "m.ckpt")
    before = path.read_bytes()
    with pytest.raises(TypeError, match="JSON-able"):
        save_model(model, path, metadata={"bad": object()})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ckpt"]


def test_unknown_config_key_suggests_the_closest():
    from mlpot.model import ModelConfig

    with pytest.raises(ValueError, match="Did you mean 'num_layers'"):
        ModelConfig.from_dict({"name": "invariant", "species": [1], "num_layer": 3})
