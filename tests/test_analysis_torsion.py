import numpy as np
import pytest
from ase import units
from ase.build import molecule
from ase.calculators.ff import ForceField
from ase.utils.ff import Angle, Bond, Dihedral
from tblite.ase import TBLite

from mlpot.geometry.internal import (
    angle_triples,
    bond_angles,
    bond_lengths,
    bonded_pairs,
    dihedral_angles,
)
from mlpot.geometry.scan import profile_summary, relaxed_scan, rigid_scan, set_torsion
from mlpot.geometry.torsion import (
    KCAL_PER_MOL,
    basin_populations,
    ethane_torsion,
    ethane_torsion_quadruples,
    fold_angles,
    free_energy_profile,
    rotating_group,
    torsion_coordinate,
    torsion_quadruple,
)

# Height of each of the nine H-C-C-H cosine terms of the force field, eV.
TORSION_TERM = 0.005


@pytest.fixture
def ethane():
    atoms = molecule("C2H6")
    atoms.center(vacuum=6.0)  # ase's ForceField needs a cell
    return atoms


def ethane_force_field(atoms):
    """Harmonic bonds and angles, and 9 k(1 + cos 3φ) H-C-C-H terms: barrier 18k."""
    pairs = bonded_pairs(atoms)
    triples = angle_triples(pairs)
    return ForceField(
        bonds=[
            Bond(i, j, 30.0, r)
            for (i, j), r in zip(pairs, bond_lengths(atoms, pairs), strict=True)
        ],
        angles=[
            Angle(i, j, k, 3.0, np.radians(a))
            for (i, j, k), a in zip(triples, bond_angles(atoms, triples), strict=True)
        ],
        dihedrals=[
            Dihedral(h, 0, 1, g, TORSION_TERM, d0=0.0, n=3)
            for h in (2, 3, 4)
            for g in (5, 6, 7)
        ],
    )


def test_ethane_quadruples_step_by_120_degrees(ethane):
    quadruples = ethane_torsion_quadruples(ethane)
    assert quadruples.shape == (3, 4)
    assert set(quadruples[:, 1:3].ravel()) == {0, 1}
    assert len(set(quadruples[:, 0])) == 1 and len(set(quadruples[:, 3])) == 3
    steps = np.diff(dihedral_angles(ethane, quadruples)) % 360.0
    np.testing.assert_allclose(steps, [120.0, 120.0], atol=0.01)


def test_ethane_quadruples_refuse_other_molecules():
    with pytest.raises(ValueError, match="torsion_quadruple"):
        ethane_torsion_quadruples(molecule("CH3CH2OH"))


@pytest.mark.parametrize(
    "dihedrals, expected",
    [
        ([60.0, 180.0, 300.0], 60.0),
        ([359.0, 119.0, 239.0], 359.0),
        ([1.0, 121.0, 241.0], 1.0),
        ([359.0, 121.0, 240.0], 0.0),
        ([179.0, 301.0, 60.0], 180.0),
    ],
)
def test_torsion_coordinate_averages_across_the_wrap(dihedrals, expected):
    value = torsion_coordinate([dihedrals])[0]
    assert min(abs(value - expected), 360.0 - abs(value - expected)) < 1e-9
    assert 0.0 <= value < 360.0


def test_fold_angles_stays_below_the_period():
    folded = fold_angles([-1e-15, 119.9, 120.0, 250.0, -10.0], 120.0)
    np.testing.assert_allclose(folded, [0.0, 119.9, 0.0, 10.0, 110.0])
    assert (folded < 120.0).all()


def test_ethane_torsion_follows_a_rigid_turn(ethane):
    quadruple = ethane_torsion_quadruples(ethane)[0]
    frames = []
    for angle in (0.0, 45.0, 200.0, 359.0):
        frame = ethane.copy()
        set_torsion(frame, quadruple, angle)
        frames.append(frame)
    np.testing.assert_allclose(
        ethane_torsion(frames), [0.0, 45.0, 200.0, 359.0], atol=1e-3
    )


def test_rotating_group_is_the_far_side_of_the_bond(ethane):
    np.testing.assert_array_equal(rotating_group(ethane, (0, 1)), [1, 5, 6, 7])
    np.testing.assert_array_equal(rotating_group(ethane, (1, 0)), [0, 2, 3, 4])
    np.testing.assert_array_equal(torsion_quadruple(ethane, (0, 1)), [2, 0, 1, 5])
    with pytest.raises(ValueError, match="not bonded"):
        rotating_group(ethane, (2, 5))
    with pytest.raises(ValueError, match="ring"):
        rotating_group(molecule("C6H6"), (0, 1))


def test_basin_populations_assign_across_the_wrap():
    angles = [10.0, 350.0, 65.0, 170.0, 200.0, 290.0]
    populations = basin_populations(angles, [60.0, 180.0, 300.0])
    np.testing.assert_allclose(populations, [2 / 6, 2 / 6, 2 / 6])
    folded = basin_populations(
        fold_angles([5.0, 115.0, 60.0, 130.0]), [60.0, 0.0], period=120.0
    )
    np.testing.assert_allclose(folded, [0.25, 0.75])


def test_free_energy_profile_is_minus_kt_log_p():
    angles = np.concatenate([np.full(200, 5.0), np.full(100, 15.0), [-5.0]])
    centres, free_energy = free_energy_profile(angles, 300.0, bins=36)
    assert centres[0] == pytest.approx(5.0)
    kt = units.kB * 300.0
    assert free_energy[0] == 0.0
    assert free_energy[1] == pytest.approx(kt * np.log(2.0))
    assert free_energy[-1] == pytest.approx(kt * np.log(200.0))  # -5° is 355°
    assert np.isinf(free_energy[2:-1]).all()


def test_rigid_scan_reproduces_the_force_field_profile(ethane):
    calculator = ethane_force_field(ethane)
    quadruple = ethane_torsion_quadruples(ethane)[0]
    # Angles avoid exact 0° and 180° dihedrals, where ase's force field has
    # no sign for the dihedral.
    angles = np.arange(10.0, 360.0, 20.0)
    scan = rigid_scan(ethane, calculator, quadruple, angles)
    expected = 9 * TORSION_TERM * (1 + np.cos(np.radians(3 * angles)))
    np.testing.assert_allclose(scan.energies, expected, atol=1e-9)
    np.testing.assert_allclose(dihedral_angles(scan.images, [quadruple])[:, 0], angles)
    assert ethane.calc is None and ethane.get_dihedral(*quadruple) == pytest.approx(
        180.0
    )


def test_profile_summary_of_a_known_profile():
    angles = np.arange(0.0, 360.0, 15.0)
    energies = 0.05 * (1 + np.cos(np.radians(3 * (angles - 20.0))))
    energies[angles == 315.0] += 0.004  # one raised minimum
    summary = profile_summary(angles, energies, reference_energies=energies + 1.0)
    # The grid points nearest the extremes are 5° off: 15°, 135°... and 75°...
    assert summary.barrier == pytest.approx(0.1 * np.cos(np.radians(15)))
    np.testing.assert_array_equal(summary.maxima_angles, [15.0, 135.0, 255.0])
    np.testing.assert_array_equal(summary.minima_angles, [75.0, 195.0, 315.0])
    assert summary.minima_spread == pytest.approx(0.004)
    assert summary.maxima_spread == pytest.approx(0.0, abs=1e-12)
    assert summary.rmse == pytest.approx(0.0, abs=1e-12)  # a constant offset only
    shifted = profile_summary(angles, energies, reference_energies=energies[::-1])
    assert shifted.rmse > 0.01


def test_relaxed_gfn2_xtb_scan_of_ethane(ethane):
    """GFN2-xTB gives a 2.59 kcal/mol barrier and three equal minima and maxima."""
    quadruple = ethane_torsion_quadruples(ethane)[0]
    angles = np.arange(0.0, 360.0, 30.0)
    scan = relaxed_scan(
        ethane, TBLite(method="GFN2-xTB", verbosity=0), quadruple, angles
    )
    assert scan.converged.all()
    np.testing.assert_allclose(
        dihedral_angles(scan.images, [quadruple])[:, 0] % 360.0, angles, atol=1e-4
    )
    assert all(np.abs(image.get_forces()).max() > 0 for image in scan.images)
    summary = profile_summary(angles, scan.energies)
    assert summary.barrier / KCAL_PER_MOL == pytest.approx(2.59, abs=0.03)
    np.testing.assert_array_equal(summary.minima_angles, [60.0, 180.0, 300.0])
    assert summary.minima_spread / KCAL_PER_MOL < 0.02
    assert summary.maxima_spread / KCAL_PER_MOL < 0.02
    assert ethane.get_dihedral(*quadruple) == pytest.approx(180.0)
