"""Error metrics, the weighted loss, and their consistency."""

import math

import pytest
import torch

from mlpot import keys
from mlpot.train.losses import describe_loss, loss_from_errors, weighted_loss
from mlpot.train.metrics import (
    KCAL_PER_MOL,
    ErrorAccumulator,
    error_metrics,
    in_kcal_per_mol,
    in_mev,
)


def labelled_batch():
    """Two structures (1 and 3 atoms) with known prediction errors."""
    reference = {
        keys.ENERGY: torch.tensor([-10.0, -20.0], dtype=torch.float64),
        keys.FORCES: torch.zeros(4, 3, dtype=torch.float64),
        keys.NUM_ATOMS: torch.tensor([1, 3]),
    }
    forces_error = torch.zeros(4, 3, dtype=torch.float64)
    forces_error[0, 0], forces_error[3, 2] = 0.6, -1.2
    prediction = {
        keys.ENERGY: reference[keys.ENERGY]
        + torch.tensor([1.0, -3.0], dtype=torch.float64),
        keys.FORCES: forces_error,
    }
    return prediction, reference


def test_errors_of_a_known_batch():
    prediction, reference = labelled_batch()
    errors = error_metrics(
        prediction[keys.ENERGY],
        reference[keys.ENERGY],
        reference[keys.NUM_ATOMS],
        prediction[keys.FORCES],
        reference[keys.FORCES],
    )
    assert errors["energy_mae"] == pytest.approx(2.0)
    assert errors["energy_rmse"] == pytest.approx(math.sqrt(5.0))
    assert errors["energy_per_atom_mae"] == pytest.approx(1.0)
    assert errors["energy_per_atom_rmse"] == pytest.approx(1.0)
    assert errors["forces_mae"] == pytest.approx(1.8 / 12)
    assert errors["forces_rmse"] == pytest.approx(math.sqrt((0.36 + 1.44) / 12))


def test_accumulating_batches_equals_one_pass():
    torch.manual_seed(0)
    energy_pred, energy_ref = torch.randn(7), torch.randn(7)
    num_atoms = torch.tensor([1, 2, 3, 1, 2, 3, 4])
    forces_pred, forces_ref = torch.randn(16, 3), torch.randn(16, 3)
    whole = error_metrics(energy_pred, energy_ref, num_atoms, forces_pred, forces_ref)
    accumulator = ErrorAccumulator()
    accumulator.add(
        energy_pred[:3], energy_ref[:3], num_atoms[:3], forces_pred[:6], forces_ref[:6]
    )
    accumulator.add(
        energy_pred[3:], energy_ref[3:], num_atoms[3:], forces_pred[6:], forces_ref[6:]
    )
    assert accumulator.result() == pytest.approx(whole, rel=1e-12)


def test_empty_accumulator_is_an_error():
    with pytest.raises(ValueError, match="no errors"):
        ErrorAccumulator().result()


def test_reporting_units_name_their_unit():
    errors = {"energy_mae": 0.002, "energy_per_atom_rmse": 0.001, "forces_mae": 0.05}
    assert in_mev(errors) == pytest.approx(
        {
            "energy_mae_meV": 2.0,
            "energy_per_atom_rmse_meV": 1.0,
            "forces_mae_meV_per_A": 50.0,
        }
    )
    kcal = in_kcal_per_mol(errors)
    assert kcal["energy_mae_kcal_mol"] == pytest.approx(0.002 / KCAL_PER_MOL)
    assert kcal["forces_mae_kcal_mol_per_A"] == pytest.approx(0.05 / KCAL_PER_MOL)
    assert KCAL_PER_MOL == pytest.approx(0.0433641, rel=1e-5)


@pytest.mark.parametrize(
    "energy_loss, energy_mse",
    # energy errors 1 and -3 eV of 1 and 3 atoms: 1 and -1 eV per atom
    [("per_atom", 1.0), ("total", 5.0)],
)
def test_loss_of_a_batch_equals_loss_from_its_errors(energy_loss, energy_mse):
    prediction, reference = labelled_batch()
    loss = weighted_loss(prediction, reference, 2.0, 50.0, 0.8, energy_loss)
    errors = error_metrics(
        prediction[keys.ENERGY],
        reference[keys.ENERGY],
        reference[keys.NUM_ATOMS],
        prediction[keys.FORCES],
        reference[keys.FORCES],
    )
    expected = (2.0 * energy_mse + 50.0 * (0.36 + 1.44) / 12) / 0.8**2
    assert float(loss) == pytest.approx(expected)
    assert loss_from_errors(errors, 2.0, 50.0, 0.8, energy_loss) == pytest.approx(
        expected
    )


def test_huber_loss_is_squared_below_delta_and_linear_beyond():
    prediction, reference = labelled_batch()
    huber = weighted_loss(prediction, reference, 2.0, 50.0, 0.8, huber_delta=1.0)
    # per-atom energy errors +-1 eV are within delta (1 each); of the force
    # errors 0.6 is within (0.36) and 1.2 beyond it (2 * 1.2 - 1 = 1.4)
    expected = (2.0 * 1.0 + 50.0 * (0.36 + 1.4) / 12) / 0.8**2
    assert float(huber) == pytest.approx(expected)
    wide = weighted_loss(prediction, reference, 2.0, 50.0, 0.8, huber_delta=10.0)
    squared = weighted_loss(prediction, reference, 2.0, 50.0, 0.8)
    assert float(wide) == pytest.approx(float(squared))


def test_loss_reaches_the_parameters_through_float32_forces():
    prediction, reference = labelled_batch()
    forces = prediction[keys.FORCES].float().requires_grad_(True)
    loss = weighted_loss({**prediction, keys.FORCES: forces}, reference, 1.0, 1.0, 1.0)
    loss.backward()
    assert forces.grad.dtype == torch.float32
    assert forces.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "settings, expected",
    [
        (
            ("huber", 0.02, 1.0, 10.0, "total"),
            "Huber (δ 0.02 eV/Å, eV of energy); weights energy 1, forces 10",
        ),
        (
            ("mse", None, 2.0, 0.0, "per_atom"),
            "squared errors; weights energy per atom 2, forces 0",
        ),
    ],
)
def test_loss_is_described_with_its_settings(settings, expected):
    assert describe_loss(*settings) == expected
