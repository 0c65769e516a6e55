"""Checkpoints whose settings or weights were changed after writing are refused."""

import pytest
import torch
from conftest import make_model

from mlpot import pretrained
from mlpot.model.committee import is_committee, member_paths
from mlpot.model.io import CheckpointError, load_model, save_model
from mlpot.pretrained_models import list_models, pretrained_path


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.ckpt"
    save_model(make_model("equivariant"), path)
    return path


def _edit(path, change):
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["config"].update(species=list(reversed(p["config"]["species"]))),
        lambda p: p["config"].update(r_max=p["config"]["r_max"] + 1.0),
        lambda p: p["config"].update(avg_num_neighbors=3.0),
        lambda p: p["state_dict"][next(iter(p["state_dict"]))].mul_(1.01),
    ],
    ids=["species-order", "r_max", "avg_num_neighbors", "weights"],
)
def test_modified_checkpoints_are_refused(saved, change):
    load_model(saved)
    _edit(saved, change)
    with pytest.raises(CheckpointError, match="was modified or is corrupt"):
        load_model(saved)


def test_non_finite_weights_are_refused(saved):
    def poison(payload):
        name = next(k for k, v in payload["state_dict"].items() if v.numel() > 1)
        payload["state_dict"][name].view(-1)[0] = float("nan")
        payload.pop("digest")

    _edit(saved, poison)
    with pytest.raises(CheckpointError, match="non-finite"):
        load_model(saved, trust_unsigned=True)


@pytest.mark.parametrize("key", ["config", "state_dict"])
def test_missing_entries_are_named(saved, key):
    _edit(saved, lambda payload: payload.pop(key))
    with pytest.raises(CheckpointError, match=f"no valid '{key}' entry"):
        load_model(saved)


def test_wrong_typed_config_value_is_a_clear_error(saved):
    def retype(payload):
        payload["config"]["num_layers"] = "four"
        payload.pop("digest")

    _edit(saved, retype)
    with pytest.raises(CheckpointError, match="invalid model config"):
        load_model(saved, trust_unsigned=True)


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["config"].update(species=list(reversed(p["config"]["species"]))),
        lambda p: p["state_dict"][next(iter(p["state_dict"]))].mul_(3.0),
    ],
    ids=["species-order", "weights-x3"],
)
def test_deleting_the_digest_does_not_switch_the_check_off(saved, change):
    from mlpot import load_calculator

    def tamper(payload):
        change(payload)
        payload.pop("digest")

    _edit(saved, tamper)
    for load in (load_model, load_calculator):
        with pytest.raises(CheckpointError, match="has no digest, so nothing shows"):
            load(saved)
    with pytest.warns(UserWarning, match="has no digest; it is loaded unchecked"):
        load_model(saved, trust_unsigned=True)


def test_a_string_format_version_is_named_not_an_upgrade(saved):
    _edit(saved, lambda payload: payload.update(format_version="1"))
    with pytest.raises(CheckpointError, match=r"invalid format_version '1' \(str"):
        load_model(saved)


@pytest.mark.parametrize("name", list_models())
def test_shipped_checkpoints_carry_a_digest_and_a_domain(name):
    path = pretrained_path(name)
    # A committee's members each carry their own; its domain is member 0's.
    paths = member_paths(path) if is_committee(path) else [path]
    payloads = [torch.load(member, weights_only=True) for member in paths]
    for payload in payloads:
        assert len(payload["digest"]) == 64
        assert payload["metadata"]["domain"]["formulas"]
    domain = payloads[0]["metadata"]["domain"]
    assert pretrained(name).model.metadata["domain"] == domain


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickled_objects_are_refused_without_suggesting_unsafe_loading(tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save({"format": "mlpot-checkpoint", "payload": _Payload()}, path)
    with pytest.raises(CheckpointError, match="not a plain mlpot checkpoint") as info:
        load_model(path)
    assert "weights_only" not in str(info.value)


def test_metadata_that_is_not_a_mapping_is_refused(saved):
    _edit(saved, lambda payload: payload.update(metadata="trained by hand"))
    with pytest.raises(CheckpointError, match="has metadata of type str where mlpot"):
        load_model(saved)
