"""Committees: mean and spread of several models, on disk and in ASE."""

import numpy as np
import pytest
import torch
from ase import units
from ase.build import molecule
from ase.md.verlet import VelocityVerlet
from conftest import make_model
from test_model_contract import TestModelContract, evaluate

from mlpot import load_calculator
from mlpot.calculator import CommitteeCalculator, MLPotCalculator
from mlpot.domain import OutOfDomainWarning
from mlpot.graph import from_atoms
from mlpot.md import SpreadExceeded, SpreadGuard
from mlpot.model.committee import (
    Committee,
    copy_committee,
    load_committee,
    member_paths,
    save_committee,
)
from mlpot.model.forces import energy_and_forces


def members(kind="invariant", n=3):
    models = []
    for seed in range(n):
        torch.manual_seed(seed)
        models.append(make_model(kind))
    return models


class TestCommitteeContract(TestModelContract):
    """Every physics check of a single model, for the mean of a committee."""

    @pytest.fixture
    def model(self, model_kind):
        return Committee(members(model_kind, 2))

    def test_float32_model_keeps_energy_in_float64(self, model_kind, ethanol):
        committee64 = Committee(members(model_kind, 2))
        committee32 = Committee(members(model_kind, 2)).to(torch.float32)
        committee32.load_state_dict(committee64.state_dict())
        e64 = evaluate(committee64, ethanol)
        e32 = energy_and_forces(
            committee32, from_atoms(ethanol, committee64.r_max, torch.float32)
        )
        assert e32["energy"].dtype == torch.float64
        assert abs(float((e32["energy"] - e64["energy"]).detach())) < 1e-4


@pytest.fixture
def ethanol():
    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.05, seed=1)
    return atoms


def one_by_one(models, atoms):
    results = []
    for model in models:
        atoms.calc = MLPotCalculator(model)
        results.append((atoms.get_potential_energy(), atoms.get_forces()))
    return results


@pytest.mark.parametrize("kind", ["equivariant", "invariant"])
def test_committee_mean_and_spread_equal_the_members_one_by_one(kind, ethanol):
    models = members(kind)
    single = one_by_one(models, ethanol)
    energies = np.array([e for e, _ in single])
    forces = np.array([f for _, f in single])
    ethanol.calc = CommitteeCalculator(Committee(models))
    assert ethanol.get_potential_energy() == pytest.approx(energies.mean(), abs=1e-9)
    np.testing.assert_allclose(ethanol.get_forces(), forces.mean(0), atol=1e-9)
    calc = ethanol.calc
    assert calc.results["energy_std"] == pytest.approx(energies.std(), abs=1e-9)
    expected = np.linalg.norm(forces.std(axis=0), axis=1)
    np.testing.assert_allclose(calc.results["forces_std"], expected, atol=1e-9)
    assert calc.get_property("max_forces_std", ethanol) == pytest.approx(expected.max())
    np.testing.assert_allclose(calc.results["member_energies"], energies, atol=1e-9)
    np.testing.assert_allclose(calc.results["member_forces"], forces, atol=1e-9)


def test_identical_members_have_no_spread(ethanol):
    model = make_model("invariant")
    copies = [model] + [make_model("invariant") for _ in range(2)]
    for copy in copies[1:]:
        copy.load_state_dict(model.state_dict())
    ethanol.calc = CommitteeCalculator(Committee(copies))
    ethanol.get_forces()
    assert ethanol.calc.results["energy_std"] == 0.0
    assert ethanol.calc.results["max_forces_std"] == 0.0


def test_save_and_load_round_trip(tmp_path, ethanol):
    committee = Committee(members())
    folder = save_committee(committee, tmp_path / "ethanol-committee")
    loaded = load_committee(folder)
    original, read_back = committee.state_dict(), loaded.state_dict()
    assert original.keys() == read_back.keys()
    assert all(torch.equal(original[key], read_back[key]) for key in original)
    ethanol.calc = load_calculator(folder)
    assert isinstance(ethanol.calc, CommitteeCalculator)
    direct = CommitteeCalculator(committee)
    ethanol.get_forces()
    assert ethanol.calc.results["energy"] == pytest.approx(
        direct.get_potential_energy(ethanol), abs=1e-12
    )
    with pytest.raises(FileExistsError):
        save_committee(committee, folder)


def test_copied_committee_has_the_same_members_byte_for_byte(tmp_path):
    source = save_committee(Committee(members()), tmp_path / "run")
    copy = copy_committee(source, tmp_path / "shipped", {"calibration": 1.5})
    assert [p.name for p in member_paths(copy)] == [
        "member-0.ckpt",
        "member-1.ckpt",
        "member-2.ckpt",
    ]
    for original, copied in zip(member_paths(source), member_paths(copy), strict=True):
        assert original.read_bytes() == copied.read_bytes()
    assert load_committee(copy).metadata["committee"]["metadata"] == {
        "calibration": 1.5
    }
    with pytest.raises(FileExistsError, match="exists"):
        copy_committee(source, copy)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "shipped"]


def test_committees_are_found_by_name(tmp_path, monkeypatch, ethanol):
    from mlpot import list_models, pretrained

    save_committee(Committee(members()), tmp_path / "toy-committee")
    monkeypatch.setenv("MLPOT_MODELS_DIR", str(tmp_path))
    assert "toy-committee" in list_models()
    ethanol.calc = pretrained("toy-committee")
    assert isinstance(ethanol.calc, CommitteeCalculator)
    assert ethanol.calc.get_property("max_forces_std", ethanol) > 0


def test_members_must_share_species_and_cutoff():
    with pytest.raises(ValueError, match="members must share"):
        Committee([make_model("invariant"), make_model("invariant", r_max=5.0)])
    with pytest.raises(ValueError, match="at least two"):
        Committee([make_model("invariant")])


def test_guard_stops_dynamics_pushed_out_of_domain(ethanol):
    ethanol.calc = CommitteeCalculator(Committee(members()))
    calm = ethanol.calc.get_property("max_forces_std", ethanol)
    # Squeeze the molecule: the members, trained on nothing, disagree more
    # and more as atoms are pushed together.
    squeezed = ethanol.copy()
    squeezed.positions *= 0.6
    squeezed.calc = ethanol.calc
    assert squeezed.calc.get_property("max_forces_std", squeezed) > calm
    dyn = VelocityVerlet(squeezed, timestep=0.1 * units.fs)
    guard = SpreadGuard(squeezed, threshold=calm * 1.01)
    dyn.attach(guard, interval=1)
    with pytest.raises(SpreadExceeded, match="left the region"):
        dyn.run(5)
    assert guard.history and guard.history[-1] > calm * 1.01


def test_spread_warning_of_the_calculator(ethanol):
    ethanol.calc = CommitteeCalculator(
        Committee(members()), max_forces_std_warning=1e-12
    )
    with pytest.warns(OutOfDomainWarning, match="members disagree"):
        ethanol.get_forces()


def test_spread_and_error_per_atom_of_labelled_frames():
    from pathlib import Path

    from mlpot.analysis.calibration import spread_and_error
    from mlpot.data import read_frames

    frames = read_frames(
        Path(__file__).parent / "data" / "rmd17_ethanol_test_01_subset.npz"
    )
    calculator = CommitteeCalculator(Committee(members()))
    spread, error = spread_and_error(calculator, frames, [0, 3])
    assert spread.shape == error.shape == (18,)
    atoms = frames.to_atoms(3)
    atoms.calc = calculator
    expected = np.linalg.norm(
        atoms.get_forces() - frames.forces[frames.atom_slice(3)], axis=1
    )
    np.testing.assert_allclose(error[9:], expected, atol=1e-12)
    assert (spread > 0).all()


def test_calculate_many_gives_each_structures_spread(ethanol):
    calculator = CommitteeCalculator(Committee(members()))
    water = molecule("H2O")
    many = calculator.calculate_many([ethanol, water])
    for atoms, result in zip([ethanol, water], many, strict=True):
        atoms.calc = calculator
        atoms.get_forces()
        assert result["energy_std"] == pytest.approx(
            calculator.results["energy_std"], abs=1e-9
        )
        for key in ("forces_std", "member_energies", "member_forces"):
            np.testing.assert_allclose(result[key], calculator.results[key], atol=1e-9)


def test_committee_file_errors_are_named(tmp_path):
    import json as json_module

    from mlpot import load_calculator
    from mlpot.model.committee import Committee, save_committee
    from mlpot.model.io import CheckpointError

    folder = save_committee(
        Committee([make_model("invariant"), make_model("invariant")]), tmp_path / "c"
    )
    record = folder / "committee.json"
    original = json_module.loads(record.read_text())
    outside = tmp_path / "elsewhere.ckpt"
    outside.write_bytes((folder / original["members"][0]).read_bytes())
    cases = {
        "{not json": "is not valid JSON",
        json_module.dumps({"members": "member-0.ckpt"}): 'must hold "members": a list',
        json_module.dumps(
            {**original, "members": ["../elsewhere.ckpt", "member-1.ckpt"]}
        ): "names a member outside the committee folder",
    }
    for text, message in cases.items():
        record.write_text(text)
        with pytest.raises(CheckpointError, match=message):
            load_calculator(folder)
    record.write_text(json_module.dumps(original))
    with pytest.raises(ValueError, match="max_forces_std_warning must be a positive"):
        load_calculator(folder, max_forces_std_warning="0.3")
