"""The shipped models in models/ match their cards.

Each ``models/NAME.json`` (written by ``mlpot-card CKPT --json``, see
training/ship.sh) records the test file the card was made from (its path
relative to the repository root, where ship.sh runs) with its sha256, and the
errors measured on it. Here the checkpoint is evaluated again on that file
with the same code (`mlpot.train.report.evaluate_file`, float64, its default
batch), and each figure must come out the same; the file must still be the
one the card names; and the model must load through its family's calculator.

Test files beside the repository (``../shared/data``, which CI has) are skipped
when absent; the repository's own data (``data/``) must be there.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from mlpot import keys, load_calculator
from mlpot.analysis.symmetry import equivariance_errors
from mlpot.calculator import CommitteeCalculator, EquivCalculator, InvariantCalculator
from mlpot.data import read_frames
from mlpot.data.files import sha256sum
from mlpot.model.io import load_model, read_checkpoint
from mlpot.train.batches import labelled_graphs
from mlpot.train.evaluation import predict
from mlpot.train.report import evaluate_file

ROOT = Path(__file__).parents[1]
MODELS = ROOT / "models"
CARDS = sorted(path.stem for path in MODELS.glob("*.json"))
COMMITTEES = sorted(path.parent.name for path in MODELS.glob("*/committee.json"))
SINGLE = [name for name in CARDS if name not in COMMITTEES]
CALCULATORS = {"equivariant": EquivCalculator, "invariant": InvariantCalculator}
# The card's error figures that must reproduce: MAE and RMSE of energy and forces.
FIGURES = (
    "energy_mae_meV",
    "energy_rmse_meV",
    "forces_mae_meV_per_A",
    "forces_rmse_meV_per_A",
)


def _shipped(name) -> Path:
    """The checkpoint, or the committee folder, of a shipped model."""
    return MODELS / name if name in COMMITTEES else MODELS / f"{name}.ckpt"


def test_every_shipped_model_has_json_figures():
    shipped = sorted([path.stem for path in MODELS.glob("*.ckpt")] + COMMITTEES)
    assert shipped, "no shipped checkpoints in models/"
    assert CARDS == shipped, "every models/NAME.ckpt or NAME/ needs models/NAME.json"
    for name in shipped:
        assert (MODELS / f"{name}.md").is_file(), f"models/{name}.md is missing"


def _card(name):
    return json.loads((MODELS / f"{name}.json").read_text())


def _test_file(name) -> Path:
    """The card's test file, resolved from the repository root; skip if absent."""
    recorded = _card(name)["test"]["data"]["path"]
    path = (ROOT / recorded).resolve()
    if path.is_file():
        return path
    if path.is_relative_to(ROOT.resolve()):
        pytest.fail(
            f"models/{name}.json names the test file {recorded}, which is part "
            f"of the repository but missing at {path}"
        )
    pytest.skip(f"test file of {name} not found: {recorded} (resolved to {path})")


@pytest.fixture(scope="module", params=CARDS)
def evaluated(request):
    """The card of one model and a fresh evaluation on its test file."""
    name = request.param
    card = _card(name)
    report = evaluate_file(_shipped(name), _test_file(name))
    return name, card, report


def test_test_errors_reproduce(evaluated):
    name, card, report = evaluated
    recorded, measured = card["test"]["metrics"], report["metrics"]
    assert report["data"]["n_frames"] == card["test"]["data"]["n_frames"]
    assert report["n_atoms"] == card["test"]["n_atoms"]
    for figure in FIGURES:
        assert math.isclose(measured[figure], recorded[figure], rel_tol=1e-6), (
            f"{name}: {figure} is {measured[figure]!r} now, "
            f"{recorded[figure]!r} in models/{name}.json"
        )


@pytest.mark.parametrize(
    "name",
    CARDS,
)
def test_test_file_is_the_one_the_card_names(name):
    recorded = _card(name)["test"]["data"]
    path = _test_file(name)
    assert recorded["sha256"] is not None, f"models/{name}.json records no sha256"
    assert sha256sum(path) == recorded["sha256"], (
        f"{path} is not the test file models/{name}.json was made from"
    )
    card = (MODELS / f"{name}.md").read_text()
    assert f"`{recorded['sha256']}`" in card


@pytest.mark.parametrize("name", SINGLE)
def test_model_loads_through_its_family_calculator(name):
    checkpoint = MODELS / f"{name}.ckpt"
    family = read_checkpoint(checkpoint)["model_family"]
    assert family in CALCULATORS, f"{name}: no calculator for family {family!r}"
    calculator = CALCULATORS[family](str(checkpoint))
    other = next(cls for key, cls in CALCULATORS.items() if key != family)
    with pytest.raises(ValueError, match=CALCULATORS[family].__name__):
        other(str(checkpoint))
    path = _test_file(name)
    frames = read_frames(path)
    model = load_model(checkpoint)
    expected = predict(model, labelled_graphs(frames.subset([0]), model.r_max))
    # With radial tables (the default) the calculator is within ~1e-7 eV/Å of
    # the networks; without them it runs the same arithmetic as the model.
    for calc, tolerance in (
        (calculator, 1e-6),
        (CALCULATORS[family](str(checkpoint), radial_table=False), 1e-8),
    ):
        atoms = frames.to_atoms(0)
        atoms.calc = calc
        assert np.isclose(
            atoms.get_potential_energy(),
            float(expected[keys.ENERGY][0]),
            rtol=0,
            atol=tolerance,
        )
        np.testing.assert_allclose(
            atoms.get_forces(), expected[keys.FORCES].numpy(), rtol=0, atol=tolerance
        )
    assert torch.isfinite(torch.as_tensor(atoms.get_forces())).all()


@pytest.mark.parametrize("name", SINGLE)
def test_float64_model_is_rotation_symmetric_to_rounding(name):
    # The weights are stored in float32; the float64 model must still be
    # exactly symmetric, which float32-rounded couplings spoil at 1e-8.
    model = load_model(MODELS / f"{name}.ckpt", dtype=torch.float64)
    atoms = read_frames(_test_file(name)).to_atoms(0)
    errors = equivariance_errors(model, atoms, ntrials=2)
    assert errors["energy"] < 1e-10
    assert errors["forces"] < 1e-10


@pytest.mark.parametrize("name", COMMITTEES)
def test_committee_opens_in_ase_with_its_spread_and_calibration(name):
    atoms = read_frames(_test_file(name)).to_atoms(0)
    atoms.calc = load_calculator(MODELS / name)
    assert isinstance(atoms.calc, CommitteeCalculator)
    forces = atoms.get_forces()
    results = atoms.calc.results
    members = results["member_forces"]
    assert len(members) >= 2 and members.shape[1:] == forces.shape
    np.testing.assert_allclose(forces, members.mean(axis=0), atol=1e-9)
    assert results["max_forces_std"] == results["forces_std"].max() > 0
    assert results["energy_std"] >= 0
    card = (MODELS / f"{name}.md").read_text()
    calibrations = _card(name)["calibration"]
    assert calibrations, f"models/{name}.json has no calibration figures"
    for calibration in calibrations:
        assert f"s = {calibration['scale']:.2f}" in card
        for row in calibration["sets"].values():
            assert f"| {row['rank_correlation']:.2f} |" in card
        assert (MODELS / calibration["figure"]).is_file()
