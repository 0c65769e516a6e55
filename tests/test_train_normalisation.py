"""Per-species reference energies (least squares) and the energy scale (force RMS)."""

import warnings

import numpy as np
import pytest

from mlpot.data import Frames
from mlpot.model import ModelConfig, build_model
from mlpot.train.normalisation import (
    DegenerateReferenceWarning,
    composition,
    fit_atomic_energies,
    fit_normalisation,
    force_rms,
)


def molecules(formulas, energies_per_species=None, forces_scale=1.0, seed=0):
    """Frames of compositions ({Z: count}); energies sum per-species terms."""
    rng = np.random.default_rng(seed)
    numbers = [np.repeat(list(f), list(f.values())) for f in formulas]
    n_atoms = [len(z) for z in numbers]
    energy = None
    if energies_per_species is not None:
        energy = [sum(energies_per_species[z] for z in zs) for zs in numbers]
    total = sum(n_atoms)
    return Frames(
        positions=rng.normal(size=(total, 3)),
        numbers=np.concatenate(numbers),
        n_atoms=n_atoms,
        energy=energy,
        forces=forces_scale * rng.normal(size=(total, 3)),
    )


def test_composition_counts_each_species_in_model_order():
    frames = molecules([{8: 1, 1: 2}, {6: 1, 1: 4}])
    np.testing.assert_array_equal(
        composition(frames, [8, 1, 6]), [[1, 2, 0], [0, 4, 1]]
    )


def test_composition_rejects_atoms_outside_the_species():
    with pytest.raises(ValueError, match=r"atomic numbers \[8\]"):
        composition(molecules([{8: 1, 1: 2}]), [1, 6])


def test_least_squares_recovers_per_species_energies():
    reference = {1: -13.6, 6: -1029.0, 8: -2041.0}
    formulas = [{1: 2}, {8: 1, 1: 2}, {6: 1, 1: 4}, {6: 2, 8: 1, 1: 6}, {8: 2}]
    frames = molecules(formulas, reference)
    fitted = fit_atomic_energies(frames, [1, 6, 8])
    np.testing.assert_allclose(fitted, [-13.6, -1029.0, -2041.0], rtol=1e-10)


def test_one_composition_gives_the_mean_energy_per_atom_to_every_species():
    frames = molecules([{6: 2, 8: 1, 1: 6}] * 3, {1: -1.0, 6: -2.0, 8: -5.0})
    frames.energy = frames.energy + np.array([0.3, -0.1, 0.1])
    fitted = fit_atomic_energies(frames, [1, 6, 8])
    mean_per_atom = frames.energy.sum() / frames.n_atoms.sum()
    np.testing.assert_allclose(fitted, mean_per_atom, rtol=1e-12)


def test_force_rms_is_the_root_mean_square_of_components():
    frames = molecules([{1: 2}, {8: 1, 1: 2}])
    frames.forces = np.array(
        [[3.0, 0, 0], [0, 4.0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]
    )
    assert force_rms(frames) == pytest.approx(np.sqrt(25.0 / 15.0))


def test_zero_forces_cannot_set_the_scale():
    with pytest.raises(ValueError, match="forces are all zero"):
        force_rms(molecules([{1: 2}], forces_scale=0.0))


def test_fit_normalisation_sets_the_model_buffers():
    frames = molecules([{1: 2}, {8: 1, 1: 2}, {8: 2}], {1: -13.6, 8: -2041.0})
    model = build_model(ModelConfig(name="invariant", species=[8, 1], num_features=4))
    shift, scale = fit_normalisation(model, frames)
    np.testing.assert_allclose(model.atomic_energy_shift.numpy(), [-2041.0, -13.6])
    np.testing.assert_allclose(shift, [-2041.0, -13.6])
    assert float(model.energy_scale) == pytest.approx(scale)
    assert scale == pytest.approx(force_rms(frames))


def test_a_fit_on_one_composition_warns_that_it_is_degenerate():
    frames = molecules([{6: 2, 8: 1, 1: 6}] * 3, {1: -1.0, 6: -2.0, 8: -5.0})
    with pytest.warns(DegenerateReferenceWarning, match="1 independent composition"):
        fit_atomic_energies(frames, [1, 6, 8])
    three = molecules(
        [{6: 2, 8: 1, 1: 6}, {6: 1, 1: 4}, {8: 1, 1: 2}], {1: -1.0, 6: -2.0, 8: -5.0}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_atomic_energies(three, [1, 6, 8])
