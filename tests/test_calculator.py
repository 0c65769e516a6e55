import numpy as np
import pytest
import torch
from ase import units
from ase.build import molecule
from ase.calculators.calculator import PropertyNotImplementedError
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.md.verlet import VelocityVerlet
from conftest import make_model

from mlpot import (
    EquivCalculator,
    InvariantCalculator,
    MLPotCalculator,
    load_calculator,
    save_model,
)
from mlpot.graph import from_atoms
from mlpot.model.base import UnknownSpeciesError
from mlpot.model.forces import energy_and_forces
from mlpot.model.io import CheckpointError


@pytest.fixture
def checkpoints(tmp_path):
    return {
        "equivariant": save_model(make_model("equivariant"), tmp_path / "eq.ckpt"),
        "invariant": save_model(make_model("invariant"), tmp_path / "inv.ckpt"),
    }


def test_named_calculators_load_their_family(checkpoints, ethanol):
    for cls, family in (
        (EquivCalculator, "equivariant"),
        (InvariantCalculator, "invariant"),
    ):
        ethanol.calc = cls(checkpoints[family])
        assert ethanol.calc.model.family == family
        assert np.isfinite(ethanol.get_potential_energy())


def test_named_calculators_refuse_the_other_family(checkpoints):
    with pytest.raises(CheckpointError, match="use InvariantCalculator"):
        EquivCalculator(checkpoints["invariant"])
    with pytest.raises(CheckpointError, match="use EquivCalculator"):
        InvariantCalculator(checkpoints["equivariant"])


def test_load_calculator_picks_the_family(checkpoints):
    assert type(load_calculator(checkpoints["equivariant"])) is EquivCalculator
    assert type(load_calculator(checkpoints["invariant"])) is InvariantCalculator


def test_results_are_in_ev_and_match_the_model(model, ethanol):
    ethanol.calc = MLPotCalculator(model, radial_table=False)
    direct = energy_and_forces(model, from_atoms(ethanol, model.r_max))
    assert ethanol.get_potential_energy() == pytest.approx(
        float(direct["energy"].detach())
    )
    np.testing.assert_allclose(
        ethanol.get_forces(), direct["forces"].numpy(), atol=1e-12
    )
    assert ethanol.get_potential_energies().sum() == pytest.approx(
        ethanol.get_potential_energy()
    )
    assert ethanol.calc.results["free_energy"] == ethanol.calc.results["energy"]


def test_caching_and_recompute(model, ethanol, monkeypatch):
    calc = MLPotCalculator(model)
    ethanol.calc = calc
    calls = []
    original = calc._evaluate
    monkeypatch.setattr(
        calc, "_evaluate", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    energy = ethanol.get_potential_energy()
    ethanol.get_forces()
    ethanol.get_potential_energy()
    assert len(calls) == 1
    ethanol.positions[0, 0] += 0.05
    assert ethanol.get_potential_energy() != energy
    assert len(calls) == 2


def test_skin_does_not_change_results(model, ethanol):
    exact = MLPotCalculator(model, skin=0.0)
    skinned = MLPotCalculator(model, skin=1.0)
    for step in range(4):
        ethanol.positions += 0.03 * np.random.default_rng(step).normal(
            size=(len(ethanol), 3)
        )
        exact.calculate(ethanol, ["energy", "forces"])
        skinned.calculate(ethanol, ["energy", "forces"])
        assert skinned.results["energy"] == pytest.approx(
            exact.results["energy"], abs=1e-12
        )
        np.testing.assert_allclose(
            skinned.results["forces"], exact.results["forces"], atol=1e-12
        )
    assert skinned.neighbours.num_builds < exact.neighbours.num_builds


def test_stress_only_for_periodic_cells(model, ethanol):
    ethanol.calc = MLPotCalculator(model)
    with pytest.raises(PropertyNotImplementedError):
        ethanol.get_stress()


def test_float32_option(model, ethanol):
    ethanol.calc = MLPotCalculator(model, dtype="float32")
    assert next(ethanol.calc.model.parameters()).dtype == torch.float32
    assert (
        next(model.parameters()).dtype == torch.float64
    )  # the caller's model is untouched
    reference = MLPotCalculator(model)
    reference.calculate(ethanol, ["energy", "forces"])
    assert ethanol.get_potential_energy() == pytest.approx(
        reference.results["energy"], abs=1e-4
    )
    with pytest.raises(ValueError, match="float64' or 'float32"):
        MLPotCalculator(model, dtype="float16")


def test_calculate_many_equals_one_by_one(model):
    structures = [molecule(name) for name in ("H2O", "CH3CH2OH", "CH3OH")]
    calc = MLPotCalculator(model)
    many = calc.calculate_many(structures)
    for atoms, result in zip(structures, many, strict=True):
        atoms.calc = MLPotCalculator(model)
        assert result["energy"] == pytest.approx(
            atoms.get_potential_energy(), abs=1e-10
        )
        np.testing.assert_allclose(result["forces"], atoms.get_forces(), atol=1e-10)


def test_unknown_element(model):
    atoms = molecule("CH3Cl")
    atoms.calc = MLPotCalculator(model)
    with pytest.raises(
        UnknownSpeciesError, match="contains Cl, which this model was not trained on"
    ):
        atoms.get_potential_energy()


def test_nan_and_empty_atoms(model, ethanol):
    ethanol.positions[2, 1] = np.nan
    ethanol.calc = MLPotCalculator(model)
    with pytest.raises(ValueError, match=r"atoms \[2\] are NaN or infinite"):
        ethanol.get_forces()
    empty = ethanol[:0]
    empty.calc = MLPotCalculator(model)
    with pytest.raises(ValueError, match="no atoms"):
        empty.get_potential_energy()


def test_model_argument_type(ethanol):
    with pytest.raises(TypeError, match="checkpoint path or an mlpot Potential"):
        MLPotCalculator(42)


@pytest.mark.parametrize("kind", ["equivariant", "invariant"])
def test_energy_is_conserved_in_nve(kind):
    atoms = molecule("CH3CH2OH")
    atoms.calc = MLPotCalculator(make_model(kind, r_max=5.0))
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(0))
    Stationary(atoms)
    start = atoms.get_total_energy()
    dyn = VelocityVerlet(atoms, timestep=0.25 * units.fs)
    energies = []
    dyn.attach(lambda: energies.append(atoms.get_total_energy()), interval=10)
    dyn.run(400)
    drift = np.abs(np.array(energies) - start).max()
    assert atoms.get_kinetic_energy() > 0
    assert drift < 1e-3 * len(atoms)  # below 1 meV per atom over 100 fs


def test_lone_atoms_with_exact_reference_energies_do_not_warn():
    import warnings

    from ase import Atoms

    from mlpot.domain import OutOfDomainWarning

    domain = {"formulas": ["C2H6O"], "min_distance_A": 0.9}
    for kind, warns in (("equivariant-atom-reference", False), ("equivariant", True)):
        model = make_model(kind)
        model.metadata = {"domain": domain}
        atom = Atoms("O")
        atom.calc = MLPotCalculator(model)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            atom.get_potential_energy()
        assert any(issubclass(w.category, OutOfDomainWarning) for w in caught) == warns
