"""The non-equivariant contrast model: the whole contract except rotations."""

import pytest
import test_model_contract as contract
import torch

from mlpot import EquivCalculator, MLPotCalculator, load_calculator, save_model
from mlpot.analysis.symmetry import equivariance_errors
from mlpot.model.io import CheckpointError


class TestCartesianContract(contract.TestModelContract):
    """Permutation, finite differences, cutoff, batching, locality, stress, dtype."""

    # Replaced by the tests below: this model must fail them.
    test_rotation_inversion_translation = None
    test_float64_after_float32_is_exactly_symmetric = None

    @pytest.fixture
    def model_kind(self):
        return "cartesian"

    def test_translation_leaves_energy_and_forces_unchanged(self, model, ethanol):
        moved = ethanol.copy()
        moved.translate([3.0, -7.5, 12.0])
        before = contract.evaluate(model, ethanol)
        after = contract.evaluate(model, moved)
        assert torch.allclose(before["energy"], after["energy"], atol=1e-10)
        assert torch.allclose(before["forces"], after["forces"], atol=1e-10)

    def test_rotations_and_inversions_change_the_energy(self, model, ethanol):
        errors = equivariance_errors(model, ethanol, ntrials=3)
        scale = contract.evaluate(model, ethanol)["forces"].abs().max()
        assert errors["energy"] > 1e-4
        assert errors["forces"] > 1e-2 * float(scale)


def test_checkpoint_round_trip_and_calculator(ethanol, tmp_path):
    from conftest import make_model

    model = make_model("cartesian")
    path = save_model(model, tmp_path / "cartesian.ckpt")
    calculator = load_calculator(path)
    assert type(calculator) is MLPotCalculator
    ethanol.calc = calculator
    reference = contract.evaluate(model, ethanol)
    assert ethanol.get_potential_energy() == float(reference["energy"][0].detach())
    with pytest.raises(CheckpointError, match="use MLPotCalculator"):
        EquivCalculator(path)


def test_cartesian_model_only_has_continuous_filters():
    from conftest import make_model

    with pytest.raises(ValueError, match="interaction must be 'cfconv'"):
        make_model("cartesian", interaction="gcn")
