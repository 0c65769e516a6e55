"""Physics every potential must obey; runs for each model family (see conftest)."""

import copy

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress
from conftest import make_model

from mlpot import MLPotCalculator, keys
from mlpot.analysis.symmetry import equivariance_errors
from mlpot.graph import collate, from_atoms
from mlpot.model.forces import energy_and_forces


def evaluate(model, atoms):
    return energy_and_forces(model, from_atoms(atoms, model.r_max))


class TestModelContract:
    def test_rotation_inversion_translation(self, model, ethanol):
        # Float64 rounding alone stays below 1e-14; couplings rounded to
        # float32 show at 1e-11 to 1e-8.
        errors = equivariance_errors(model, ethanol, ntrials=3)
        assert errors["energy"] < 1e-12
        assert errors["forces"] < 1e-12

    def test_equivariance_check_detects_a_broken_model(self, model, ethanol):
        # A term that depends on the absolute x coordinate must be caught.
        class Broken(torch.nn.Module):
            r_max = model.r_max

            def atomic_energies(self, graph):
                return model.atomic_energies(graph) + graph[keys.POSITIONS][:, 0] ** 2

            def sum_per_structure(self, atomic, graph):
                return model.sum_per_structure(atomic, graph)

        assert equivariance_errors(Broken(), ethanol, ntrials=1)["forces"] > 1e-3

    def test_permutation(self, model, ethanol):
        order = np.random.default_rng(3).permutation(len(ethanol))
        reference = evaluate(model, ethanol)
        permuted = evaluate(model, ethanol[order])
        assert torch.allclose(permuted["energy"], reference["energy"], atol=1e-10)
        assert torch.allclose(
            permuted["forces"], reference["forces"][order], atol=1e-10
        )

    def test_forces_are_minus_energy_gradient(self, model, ethanol):
        ethanol.calc = MLPotCalculator(model)
        analytic = ethanol.get_forces()
        numeric = calculate_numerical_forces(ethanol, eps=1e-5)
        assert np.abs(analytic).max() > 1e-3  # a non-trivial check
        np.testing.assert_allclose(analytic, numeric, atol=1e-7)

    def test_force_vanishes_smoothly_at_r_max(self, model):
        def dimer(r):
            atoms = Atoms("CO", positions=[[0, 0, 0], [r, 0, 0]])
            return evaluate(model, atoms)

        r_max = model.r_max
        inside = dimer(0.9 * r_max)
        assert inside["forces"].abs().max() > 1e-6
        for r in (r_max, 1.1 * r_max):
            assert dimer(r)["forces"].abs().max() == 0.0
        # Approaching r_max the force decays at least quadratically (C2 envelope).
        near = dimer(r_max - 1e-3)["forces"].abs().max()
        nearer = dimer(r_max - 5e-4)["forces"].abs().max()
        assert 0 < nearer < 0.3 * near
        assert near < 1e-6

    def test_batch_equals_structures_one_by_one(self, model, ethanol):
        water = molecule("H2O")
        methanol = molecule("CH3OH")
        structures = [ethanol, water, methanol]
        batch = energy_and_forces(
            model, collate([from_atoms(a, model.r_max) for a in structures])
        )
        single = [evaluate(model, a) for a in structures]
        assert torch.allclose(batch["energy"], torch.cat([s["energy"] for s in single]))
        assert torch.allclose(batch["forces"], torch.cat([s["forces"] for s in single]))

    def test_far_apart_molecules_add_up(self, model, ethanol):
        water = molecule("H2O")
        water.translate([40.0, 0.0, 0.0])
        together = evaluate(model, ethanol + water)
        apart = [evaluate(model, a) for a in (ethanol, water)]
        assert torch.allclose(
            together["energy"], apart[0]["energy"] + apart[1]["energy"]
        )
        assert torch.allclose(
            together["forces"], torch.cat([apart[0]["forces"], apart[1]["forces"]])
        )

    def test_stress_matches_finite_difference(self, model):
        atoms = molecule("H2O")
        atoms.cell = [[4.0, 0.2, 0.0], [0.0, 4.5, 0.3], [0.1, 0.0, 5.0]]
        atoms.pbc = True
        atoms.rattle(0.05, seed=2)
        atoms.calc = MLPotCalculator(model)
        analytic = atoms.get_stress()
        numeric = calculate_numerical_stress(atoms, eps=1e-6)
        assert np.abs(analytic).max() > 1e-6
        np.testing.assert_allclose(analytic, numeric, atol=1e-8)

    def test_per_atom_energies_sum_to_total(self, model, ethanol):
        out = evaluate(model, ethanol)
        assert out["energies"].shape == (len(ethanol),)
        assert torch.allclose(out["energies"].sum(), out["energy"][0])

    def test_float64_after_float32_is_exactly_symmetric(self, model, ethanol):
        # Constants such as couplings must not keep float32 rounding.
        round_trip = copy.deepcopy(model).float().double()
        errors = equivariance_errors(round_trip, ethanol, ntrials=3)
        assert errors["energy"] < 1e-12
        assert errors["forces"] < 1e-12

    def test_float32_model_keeps_energy_in_float64(self, model_kind, ethanol):
        from conftest import make_model

        model64 = make_model(model_kind)
        model32 = make_model(model_kind).to(torch.float32)
        model32.load_state_dict(model64.state_dict())
        e64 = evaluate(model64, ethanol)
        e32 = energy_and_forces(
            model32, from_atoms(ethanol, model64.r_max, torch.float32)
        )
        assert e32["energy"].dtype == torch.float64
        assert model32.atomic_energy_shift.dtype == torch.float64
        assert abs(float((e32["energy"] - e64["energy"]).detach())) < 1e-4
        assert torch.allclose(e32["forces"].double(), e64["forces"], atol=1e-4)


@pytest.mark.parametrize("kind", ["equivariant"])
def test_equivariant_features_are_rotation_invariant(kind, ethanol):
    from conftest import make_model

    model = make_model(kind)
    rotated = ethanol.copy()
    rotated.rotate(73, (0.3, -1.0, 0.5), center="COM")
    a = model.features(from_atoms(ethanol, model.r_max))
    b = model.features(from_atoms(rotated, model.r_max))
    assert torch.allclose(a, b, atol=1e-10)


# Families whose radial networks depend on edge lengths only (the gcn setting
# has no radial network; the cartesian contrast's filters read edge vectors).
TABULATED_KINDS = ["equivariant", "invariant"]


class TestTabulatedModelContract(TestModelContract):
    """The same physics with the radial networks replaced by Hermite tables."""

    @pytest.fixture(params=TABULATED_KINDS)
    def model_kind(self, request):
        return request.param

    @pytest.fixture
    def model(self, model_kind):
        model = make_model(model_kind).tabulate_radial()
        assert model.active_radial_table() is not None
        return model

    def test_float32_model_keeps_energy_in_float64(self, model_kind, ethanol):
        model64 = make_model(model_kind).tabulate_radial()
        model32 = make_model(model_kind).to(torch.float32)
        model32.load_state_dict(model64.state_dict())
        model32.tabulate_radial()
        assert model32.radial_table.knots.dtype == torch.float32
        e64 = evaluate(model64, ethanol)
        e32 = energy_and_forces(
            model32, from_atoms(ethanol, model64.r_max, torch.float32)
        )
        assert e32["energy"].dtype == torch.float64
        assert abs(float((e32["energy"] - e64["energy"]).detach())) < 1e-4
        assert torch.allclose(e32["forces"].double(), e64["forces"], atol=1e-4)

    def test_force_vanishes_smoothly_at_r_max(self, model):
        # A cubic Hermite table is C¹: forces are continuous and reach zero at
        # r_max, but near it they decay linearly in the last grid interval,
        # not with the envelope's higher order (at ~1e-10 eV/Å and below).
        def dimer_force(r):
            atoms = Atoms("CO", positions=[[0, 0, 0], [r, 0, 0]])
            return float(evaluate(model, atoms)["forces"].abs().max())

        r_max = model.r_max
        assert dimer_force(0.9 * r_max) > 1e-6
        for r in (r_max, 1.1 * r_max):
            assert dimer_force(r) == 0.0
        near, nearer = dimer_force(r_max - 1e-3), dimer_force(r_max - 5e-4)
        assert 0 < nearer < near < 1e-9
