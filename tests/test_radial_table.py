"""Radial tables: agreement with the networks, staleness, calculator defaults."""

import numpy as np
import pytest
import torch
from ase.build import molecule
from conftest import make_model

from mlpot import MLPotCalculator, save_model
from mlpot.graph import from_atoms
from mlpot.memory import reuse_large_allocations
from mlpot.model.forces import energy_and_forces
from mlpot.nn.radial_table import RadialTable

TABULATED = ["equivariant", "invariant"]


def evaluate(model, atoms, dtype=torch.float64):
    return energy_and_forces(model, from_atoms(atoms, model.r_max, dtype))


def table_and_network(kind, dtype, atoms, **overrides):
    model = make_model(kind, r_max=5.0, dtype=dtype, **overrides)
    network = evaluate(model, atoms, dtype)
    tabulated = evaluate(model.tabulate_radial(), atoms, dtype)
    return network, tabulated


@pytest.mark.parametrize("kind", TABULATED)
def test_table_matches_networks_float64(kind, ethanol):
    # The benchmark's (NequIP default) size for the equivariant family.
    overrides = (
        dict(lmax=1, num_features=32, num_layers=4) if kind == "equivariant" else {}
    )
    network, tabulated = table_and_network(kind, torch.float64, ethanol, **overrides)
    assert network["forces"].abs().max() > 1e-2
    assert abs(float((network["energy"] - tabulated["energy"]).detach())) < 1e-8
    assert (network["forces"] - tabulated["forces"]).abs().max() < 1e-6
    assert (network["energies"] - tabulated["energies"]).abs().max() < 1e-8


@pytest.mark.parametrize("kind", TABULATED)
def test_table_matches_networks_float32(kind, ethanol):
    network, tabulated = table_and_network(kind, torch.float32, ethanol)
    assert tabulated["forces"].dtype == torch.float32
    assert abs(float((network["energy"] - tabulated["energy"]).detach())) < 1e-5
    assert (network["forces"] - tabulated["forces"]).abs().max() < 1e-4


def test_table_interpolates_values_and_derivatives():
    def function(r):
        return torch.stack([torch.sin(3 * r), torch.exp(-r) * r**2], dim=-1)

    table = RadialTable.from_function(function, r_max=5.0, spacing=0.01)
    r = torch.linspace(0.1, 4.9, 777, dtype=torch.float64, requires_grad=True)
    values = table(r)
    exact = function(r)
    # The cubic Hermite bound h⁴/384 · max|f| (f of sin(3r) is 81 sin).
    assert (values - exact).abs().max() < 1.01 * 0.01**4 / 384 * 81
    (slope,) = torch.autograd.grad(values[:, 0].sum(), r)
    assert (slope - 3 * torch.cos(3 * r)).abs().max() < 1e-6
    # Grid points hold the exact values; beyond r_max the last value, flat.
    assert torch.allclose(
        table(torch.tensor([2.5], dtype=torch.float64)),
        function(torch.tensor([2.5], dtype=torch.float64)),
        atol=1e-14,
    )
    far = torch.tensor([5.0, 6.0], dtype=torch.float64, requires_grad=True)
    out = table(far)
    assert torch.allclose(out[0], out[1])
    assert torch.autograd.grad(out.sum(), far)[0][1] == 0.0


def test_table_is_not_saved_and_training_uses_networks(tmp_path, ethanol):
    model = make_model("equivariant")
    keys_before = set(model.state_dict())
    model.tabulate_radial()
    assert set(model.state_dict()) == keys_before
    save_model(model, tmp_path / "m.ckpt")
    assert model.train().active_radial_table() is None
    assert model.eval().active_radial_table() is not None


@pytest.mark.parametrize("kind", TABULATED)
def test_table_is_rebuilt_when_weights_change(kind, ethanol):
    model = make_model(kind).tabulate_radial()
    old = model.radial_table
    with torch.no_grad():
        for p in model._radial_parameters():
            p.mul_(1.3)
    tabulated = evaluate(model, ethanol)
    assert model.radial_table is not old
    network = evaluate(model.drop_radial_table(), ethanol)
    assert abs(float((network["energy"] - tabulated["energy"]).detach())) < 1e-8
    # A new state_dict is picked up too.
    model.tabulate_radial()
    fresh = make_model(kind)
    torch.manual_seed(7)
    for p in fresh.parameters():
        p.data.normal_()
    model.load_state_dict(fresh.state_dict())
    assert (
        abs(
            float(
                (
                    evaluate(model, ethanol)["energy"]
                    - evaluate(fresh, ethanol)["energy"]
                ).detach()
            )
        )
        < 1e-8
    )


@pytest.mark.parametrize("kind", ["cartesian", "invariant-gcn"])
def test_models_without_length_only_networks_are_not_tabulated(kind, ethanol):
    model = make_model(kind)
    assert not model.can_tabulate_radial
    with pytest.raises(ValueError, match="nothing to tabulate"):
        model.tabulate_radial()
    ethanol.calc = MLPotCalculator(model)
    assert ethanol.calc.model.radial_table is None
    expected = evaluate(model, ethanol)["energy"].detach()
    assert ethanol.get_potential_energy() == pytest.approx(float(expected), abs=1e-12)


@pytest.mark.parametrize("kind", TABULATED)
def test_calculator_tabulates_a_copy_by_default(kind, ethanol):
    model = make_model(kind)
    calc = MLPotCalculator(model)
    assert calc.model is not model and calc.model.radial_table is not None
    assert model.radial_table is None  # the caller's model is untouched
    assert MLPotCalculator(model, radial_table=False).model.radial_table is None
    calc32 = MLPotCalculator(model, dtype="float32")
    assert calc32.model.radial_table.knots.dtype == torch.float32
    ethanol.calc = calc
    network = evaluate(model, ethanol)
    assert ethanol.get_potential_energy() == pytest.approx(
        float(network["energy"]), abs=1e-8
    )
    np.testing.assert_allclose(
        ethanol.get_forces(), network["forces"].numpy(), atol=1e-6
    )


def test_reuse_large_allocations_can_be_called_twice():
    first = reuse_large_allocations()
    assert isinstance(first, bool)
    assert reuse_large_allocations() == first


def test_lean_check_state_detects_what_the_model_depends_on():
    atoms = molecule("H2O")
    atoms.cell = [5.0, 5.0, 5.0]
    calc = MLPotCalculator(make_model("invariant"))
    assert set(calc.check_state(atoms)) >= {"positions", "numbers", "cell", "pbc"}
    calc.atoms = atoms.copy()
    assert calc.check_state(atoms) == []
    atoms.set_initial_charges([0.1, 0.0, -0.1])  # the model does not read charges
    assert calc.check_state(atoms) == []
    for change, edit in [
        (
            "positions",
            lambda a: a.positions.__setitem__((0, 1), a.positions[0, 1] + 1e-9),
        ),
        ("numbers", lambda a: a.numbers.__setitem__(0, 1)),
        ("cell", lambda a: a.set_cell([5.0, 5.0, 5.1])),
        ("pbc", lambda a: a.set_pbc([True, False, False])),
    ]:
        changed = atoms.copy()
        edit(changed)
        assert calc.check_state(changed) == [change]
    assert calc.check_state(atoms + molecule("H2")) == ["positions", "numbers"]
