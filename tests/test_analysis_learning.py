"""Learning-curve fits and the energy split of the out-of-distribution test."""

import numpy as np
import pytest

from mlpot.analysis.learning import energy_split, fit_power_law


def test_power_law_slope_and_prefactor_are_recovered():
    sizes = np.array([50, 100, 250, 500, 1000])
    slope, prefactor = fit_power_law(sizes, 3.0 * sizes**-0.45)
    assert slope == pytest.approx(-0.45, abs=1e-12)
    assert prefactor == pytest.approx(3.0, rel=1e-10)


def test_power_law_fit_averages_seeds_in_log_space():
    rng = np.random.default_rng(0)
    sizes = np.repeat([50, 100, 250, 500, 1000], 3)
    errors = 2.0 * sizes**-0.7 * np.exp(rng.normal(scale=0.05, size=sizes.size))
    slope, _ = fit_power_law(sizes, errors)
    assert slope == pytest.approx(-0.7, abs=0.05)


def test_power_law_fit_explains_bad_input():
    with pytest.raises(ValueError, match="two or more different sizes"):
        fit_power_law([100, 100], [1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        fit_power_law([10, 100], [1.0, 0.0])
    with pytest.raises(ValueError, match="one error per size"):
        fit_power_law([10, 100], [1.0])


def test_energy_split_puts_the_lowest_fraction_first():
    energies = np.array([5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0, 4.0, 6.0, 0.0])
    low, high = energy_split(energies, 0.8)
    assert low.tolist() == [0, 1, 3, 4, 5, 7, 8, 9]
    assert high.tolist() == [2, 6]
    assert energies[low].max() < energies[high].min()


def test_energy_split_breaks_ties_by_frame_order():
    low, high = energy_split([1.0, 1.0, 1.0, 1.0], 0.5)
    assert low.tolist() == [0, 1] and high.tolist() == [2, 3]


def test_energy_split_refuses_an_empty_part():
    with pytest.raises(ValueError, match="leaves one part empty"):
        energy_split([1.0, 2.0, 3.0], 0.2)
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        energy_split([1.0, 2.0, 3.0], 1.0)
